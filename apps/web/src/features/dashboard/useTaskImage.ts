import { useEffect, useState } from 'react';
import { fetchImageUrl } from '../../lib/api';

/**
 * A task image from the API, fetched with the key (an `<img src>` cannot send it) and shown
 * through a blob: URL that is released when the tile goes away. Null until loaded or on error.
 */
export function useTaskImage(url: string): string | null {
  const [blobUrl, setBlobUrl] = useState<string | null>(null);
  useEffect(() => {
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
  }, [url]);
  return blobUrl;
}
