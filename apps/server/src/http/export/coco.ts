import type { CocoExport, JobView } from '@tabgrid/protocol';
import { COCO_CATEGORIES, cocoCategoryId } from './coco-categories';

/** Rounds pixel values to 1/100 px: enough for any evaluation, and a smaller file. */
const px = (n: number) => Math.round(n * 100) / 100;

/**
 * A job as COCO detection JSON: one image per task (ids 1..n in upload order), one annotation
 * per detection of a finished task, with `bbox = [x1, y1, x2 - x1, y2 - y1]`, its `area`, the
 * detector's `score` and the official COCO `category_id`. Labels outside COCO are left out.
 */
export function toCoco(job: JobView, now: Date): CocoExport {
  const annotations: CocoExport['annotations'] = [];
  const images = job.tasks.map((task, i) => {
    const imageId = i + 1;
    if (task.status === 'done') {
      for (const d of task.detections) {
        const categoryId = cocoCategoryId(d.label);
        if (categoryId === undefined) continue;
        const [x1, y1, x2, y2] = d.box;
        const w = px(x2 - x1);
        const h = px(y2 - y1);
        annotations.push({
          id: annotations.length + 1,
          image_id: imageId,
          category_id: categoryId,
          bbox: [px(x1), px(y1), w, h],
          area: px(w * h),
          score: Math.round(d.score * 10_000) / 10_000,
          iscrowd: 0,
        });
      }
    }
    return { id: imageId, file_name: task.name, width: task.width, height: task.height };
  });
  return {
    info: {
      description: `Tabgrid job ${job.id}: object detections`,
      version: '1.0',
      date_created: now.toISOString(),
    },
    licenses: [],
    images,
    annotations,
    categories: COCO_CATEGORIES.map((c) => ({ ...c })),
  };
}
