/**
 * "Did you mean" suggestions: the names closest to one that was not found.
 */

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The names closest to `name`, best first; substring matches count as close. */
export function closest(name: string, candidates: Iterable<string>, max = 5): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored: Array<[number, string]> = [];
  for (const c of candidates) {
    if (Math.abs(c.length - name.length) > limit && !c.includes(name)) continue;
    const d = c.includes(name) ? 1 : editDistance(name, c);
    if (d <= limit) scored.push([d, c]);
  }
  scored.sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]));
  return scored.slice(0, max).map((s) => s[1]);
}
