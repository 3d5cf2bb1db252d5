import { TabgridError, type RejectedFile } from '@tabgrid/protocol';

/**
 * A `?partial=1` upload in which every file was bad: nothing was stored. The error body
 * carries each file's own code (`error.rejected`), as a partial success would.
 */
export class RejectedUploadError extends TabgridError {
  constructor(
    first: TabgridError,
    readonly rejected: RejectedFile[],
  ) {
    const more = rejected.length > 1 ? ` (and ${rejected.length - 1} more bad files)` : '';
    super(first.code, `${first.message}${more}; nothing was stored`, first.status);
  }
}
