import { useEffect, useState, type RefObject } from 'react';
import { fetchImageUrl } from '../../lib/api';

/**
 * A task image from the API, fetched with the key (an `<img src>` cannot send it) and shown
 * through a blob: URL that is released when the tile goes away. Null until loaded or on error.
 */
export function useTaskImage(url: string, enabled = true): string | null {
  const [blobUrl, setBlobUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    let made: string | null = null;
    fetchImageUrl(url).then(
      (u) => {
        made = u;
        if (live) setBlobUrl(u);
        else URL.revokeObjectURL(u);
      },
      () => live && setBlobUrl(null),
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [url, enabled]);
  return blobUrl;
}

/**
 * True once the element came within `margin` of the viewport (then stays true): a gallery of
 * thousands of tiles fetches only the images someone scrolls to.
 */
export function useNearViewport(ref: RefObject<Element | null>, margin = '600px'): boolean {
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (near || !el) return;
    if (typeof IntersectionObserver === 'undefined') return setNear(true);
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setNear(true);
          observer.disconnect();
        }
      },
      { rootMargin: margin },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref, near, margin]);
  return near;
}
