/** What a render hands to the response: a document or an image, as it is produced. */
export interface Output {
  contentType: string;
  /** The bytes, in order; read once. */
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Known for images and archival PDFs; Chromium's own PDF streams without one. */
  length?: number;
  /** Frees what the body was read from (a temporary file), once it has been delivered. */
  dispose?: () => Promise<void>;
}

/** What names the download: the page's pdf-filename and its title. */
export interface OutputName {
  meta?: string;
  title?: string;
}

/** Sends the output to the client; resolves with the bytes written once it is all out. */
export type Deliver = (output: Output, name: OutputName) => Promise<number>;
