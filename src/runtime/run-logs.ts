/**
 * What an agent may write through ctx.log in one run: a number of lines and of bytes (message plus
 * serialised fields). Past either, lines are dropped and the run record says its logs were cut, so
 * a loop of large log calls cannot fill the disk or the gateway's memory.
 */
export class RunLogBudget {
  private lines = 0;
  private bytes = 0;
  truncated = false;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
  ) {}

  /** 'write' the line, 'cut' (write one notice that the budget is spent), or 'drop'. */
  admit(msg: string, fields: unknown): 'write' | 'cut' | 'drop' {
    if (this.truncated) return 'drop';
    let size = Buffer.byteLength(msg);
    try {
      size += fields === null || fields === undefined ? 0 : Buffer.byteLength(JSON.stringify(fields) ?? '');
    } catch {
      size = this.maxBytes + 1; // fields that cannot be measured are not written
    }
    if (this.lines + 1 > this.maxLines || this.bytes + size > this.maxBytes) {
      this.truncated = true;
      return 'cut';
    }
    this.lines++;
    this.bytes += size;
    return 'write';
  }

  usage(): { lines: number; bytes: number; truncated: boolean } {
    return { lines: this.lines, bytes: this.bytes, truncated: this.truncated };
  }
}
