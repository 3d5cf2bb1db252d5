import cliProgress from 'cli-progress';

/** Progress of one phase (uploading, waiting): a bar on a terminal, plain lines otherwise. */
export interface Progress {
  update(value: number, detail?: string): void;
  stop(): void;
}

/** Plain lines at most this often (logs and pipes need no redraws). */
const LINE_EVERY_MS = 2000;

/**
 * A progress display on stderr (stdout carries results: the job id or the export). On a TTY a
 * cli-progress bar; elsewhere a line when the value changes, at most every 2 s, and at the end.
 */
export function progress(label: string, total: number, unit: string, stream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(8)} [{bar}] {value}/{total} ${unit} {detail}`,
        stream,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { detail: '' });
    return {
      update: (value, detail = '') => bar.update(value, { detail }),
      stop: () => bar.stop(),
    };
  }
  let last = -1;
  let lastAt = 0;
  let pending: string | null = null;
  const line = (value: number, detail: string) =>
    `${label}: ${value}/${total} ${unit}${detail ? ` ${detail}` : ''}\n`;
  return {
    update(value, detail = '') {
      if (value === last) return;
      last = value;
      const now = Date.now();
      if (now - lastAt >= LINE_EVERY_MS || value >= total) {
        lastAt = now;
        pending = null;
        stream.write(line(value, detail));
      } else pending = line(value, detail);
    },
    stop() {
      if (pending) stream.write(pending);
      pending = null;
    },
  };
}
