/**
 * "Did you mean" suggestions: the names closest to one that was not found.
 * A name that was renamed or split (`fuse_open_common` became `fuse_open` and
 * `fuse_dir_open`) shares its first words with its successors, not its
 * spelling: shared words count first, then a shared beginning, then the
 * edit distance that catches typos.
 */

/** Rows reused by editDistance: it runs over every kernel symbol for one suggestion. */
let rows: Int32Array[] = [];

/** Edit distance with transpositions (optimal string alignment): `opeant` is 1 from `openat`. */
export function editDistance(a: string, b: string): number {
  const n = b.length + 1;
  if (rows.length === 0 || rows[0].length < n) rows = [0, 1, 2].map(() => new Int32Array(Math.max(n, 64)));
  let [before, prev, cur] = rows;
  for (let j = 0; j < n; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j < n; j++) {
      const bj = b.charCodeAt(j - 1);
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ai === bj ? 0 : 1));
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj && before[j - 2] + 1 < v) v = before[j - 2] + 1;
      cur[j] = v;
    }
    const t = before;
    before = prev;
    prev = cur;
    cur = t;
  }
  return prev[n - 1];
}

/** The words of a name: `fuse_open_common` -> fuse, open, common; `sched:sched_switch` -> sched, switch. */
export function nameWords(name: string): string[] {
  return [...new Set(name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean))];
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The names closest to `name`, best first. A candidate qualifies by a small
 * edit distance, by containing the name, or by sharing its first word,
 * another one, and more than half of them by weight (weighed by place: the
 * first word, often the subsystem, most). It ranks by those shared words, then by the length of
 * the beginning it shares, then by edit distance.
 */
export function closest(name: string, candidates: Iterable<string>, max = 5): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const words = nameWords(name);
  const weights = words.map((_, i) => words.length - i);
  const total = weights.reduce((a, b) => a + b, 0);
  const scored: Array<{ c: string; shared: number; prefix: number; d: number }> = [];
  for (const c of candidates) {
    const contains = c.includes(name);
    const d = contains ? 1 : Math.abs(c.length - name.length) <= limit ? editDistance(name, c) : Infinity;
    let shared = 0;
    // (A substring test first: most candidates lack the first word, and splitting 100k names takes a while.)
    if (words.length > 1 && c.includes(words[0])) {
      const own = new Set(nameWords(c));
      if (own.has(words[0])) words.forEach((w, i) => (shared += own.has(w) ? weights[i] : 0));
    }
    // Successors: the first word, another one, and more than half the weight of the words.
    const successor = shared > weights[0] && 2 * shared > total;
    if (!(d <= limit || successor)) continue;
    scored.push({ c, shared, prefix: commonPrefix(name, c), d });
  }
  scored.sort((x, y) => y.shared - x.shared || y.prefix - x.prefix || x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, max).map((s) => s.c);
}
