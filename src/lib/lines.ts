/**
 * Splits a text stream into whole lines for `onLine` (a chunk may end mid-line). Each chunk is
 * scanned once: a line may be megabytes long (an `ip -json` dump) and span many chunks.
 */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk) => {
    let from = 0;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', from)) {
      const line = rest + chunk.slice(from, i);
      rest = '';
      from = i + 1;
      onLine(line);
    }
    rest += chunk.slice(from);
  };
}
