import { ApiRequestError, errorFromAnswer, type UploadSender } from '@tabgrid/client';
import { JobCreatedSchema } from '@tabgrid/protocol';

/**
 * Sends one upload request built by the client (`POST /api/jobs` or `POST /api/jobs/:id/images`,
 * `?partial=1`, the key in `Authorization: Bearer`) with upload progress. XMLHttpRequest because
 * fetch reports no upload progress. Aborting `signal` aborts the request (rejects with an
 * ApiRequestError of code `cancelled`); answers become the client's errors.
 */
export const sendUpload: UploadSender = (request, options) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', request.url);
    for (const [name, value] of Object.entries(request.headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (ev) => options.onProgress(ev.loaded);
    const onAbort = () => xhr.abort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => options.signal.removeEventListener('abort', onAbort);
    xhr.onabort = () => {
      done();
      reject(new ApiRequestError(0, 'cancelled', 'upload cancelled'));
    };
    xhr.onerror = () => {
      done();
      reject(new ApiRequestError(0, 'network_error', 'cannot reach the server'));
    };
    xhr.onload = () => {
      done();
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const parsed = JobCreatedSchema.safeParse(body);
        if (parsed.success) resolve(parsed.data);
        else reject(new ApiRequestError(xhr.status, 'bad_response', 'unexpected answer from the server'));
        return;
      }
      reject(errorFromAnswer(xhr.status, xhr.statusText, body, xhr.getResponseHeader('retry-after')));
    };
    if (options.signal.aborted) xhr.abort();
    else xhr.send(request.form);
  });
