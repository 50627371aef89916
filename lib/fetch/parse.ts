/**
 * The argument and filter expression language, parsed to an AST that keeps
 * character positions so that errors can point at the problem.
 *
 *   arg     := [label '='] expr [':' suffix]
 *   expr    := '(' typename ')' expr | postfix
 *   postfix := primary ( '->' name | '.' name | '[' integer ']' )*
 *   primary := name | '(' expr ')'
 *   suffix  := u8|u16|u32|u64|s8|s16|s32|s64|x8|x16|x32|x64
 *            | string ['[' N ']'] | ustring ['[' N ']'] | bytes '[' N ']'
 *            | enum [name] | flags [name]
 *   filter  := cond ('&&' cond)*
 *   cond    := expr [':' suffix] op literal    op: == != < <= > >= &
 *
 * Casts bind like C: `(struct sock *)p->x` casts `p->x`; write
 * `((struct sock *)p)->x` to cast first.
 */
import { ExpressionError } from '../errors';

export interface Token {
  kind: 'ident' | 'number' | 'string' | 'punct' | 'end';
  text: string;
  pos: number;
  /** Numbers: the value; strings: the unescaped text in `text`. */
  value?: bigint;
}

export type Expr =
  | { type: 'name'; name: string; pos: number }
  | { type: 'cast'; ctype: TypeName; operand: Expr; pos: number }
  | { type: 'member'; object: Expr; member: string; arrow: boolean; pos: number; memberPos: number }
  | { type: 'index'; object: Expr; index: number; pos: number };

/** A C type name in a cast: `struct sock *`, `unsigned int`, `u32`, `enum x`. */
export interface TypeName {
  /** struct/union/enum tag, or '' for a plain (possibly multi-word) name. */
  tag: '' | 'struct' | 'union' | 'enum';
  /** The name without qualifiers: `sock`, `unsigned int`, `char`. */
  name: string;
  pointers: number;
  pos: number;
  text: string;
}

export type ScalarSuffix = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'x8' | 'x16' | 'x32' | 'x64';
export type Suffix =
  | { type: ScalarSuffix; pos: number }
  | { type: 'string' | 'ustring'; max?: number; pos: number }
  | { type: 'bytes'; size: number; pos: number }
  | { type: 'enum' | 'flags'; name?: string; pos: number };

export interface ArgSpec {
  /** The whole text given. */
  source: string;
  label?: string;
  expr: Expr;
  /** The expression's own text (without label and suffix), whitespace removed. */
  exprText: string;
  suffix?: Suffix;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '&';

export type Literal =
  | { type: 'number'; value: bigint; pos: number; text: string }
  | { type: 'string'; value: string; pos: number }
  | { type: 'name'; name: string; pos: number };

export interface Condition {
  left: Expr;
  leftText: string;
  /** `arg1:u32 == 5`, `arg0:string == "x"`. */
  suffix?: Suffix;
  op: CompareOp;
  opPos: number;
  right: Literal;
  pos: number;
}

const SCALAR_SUFFIXES = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64'];
export const SUFFIXES = [...SCALAR_SUFFIXES, 'string', 'ustring', 'bytes[N]', 'enum', 'flags'];

const PUNCT = ['->', '&&', '||', '==', '!=', '<=', '>=', '.', '[', ']', '(', ')', '*', ':', '=', '<', '>', '&', '|', '-', ',', '!'];

/** Words that start a type name in a cast. */
const TYPE_WORDS = new Set([
  'struct', 'union', 'enum', 'const', 'volatile', 'unsigned', 'signed',
  'char', 'short', 'int', 'long', 'void', '_Bool', 'bool',
]);

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const err = (pos: number, msg: string) => new ExpressionError(src, pos, msg);
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_$]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_$]/.test(src[i])) i++;
      out.push({ kind: 'ident', text: src.slice(start, i), pos: start });
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)/.exec(src.slice(i))!;
      i += m[0].length;
      if (i < src.length && /[A-Za-z0-9_]/.test(src[i])) {
        // Integer suffixes as C allows them: 10UL, 0x40u.
        const s = /^[uUlL]+/.exec(src.slice(i));
        if (s && !(i + s[0].length < src.length && /[A-Za-z0-9_]/.test(src[i + s[0].length]))) i += s[0].length;
        else throw err(start, `bad number '${/^[A-Za-z0-9_]+/.exec(src.slice(start))![0]}'`);
      }
      const digits = m[0];
      // A leading 0 means octal in C (O_CREAT is 0100 in the headers).
      const value = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
      out.push({ kind: 'number', text: src.slice(start, i), pos: start, value });
      continue;
    }
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw err(start, 'unterminated string');
        const d = src[i++];
        if (d === c) break;
        if (d === '\\' && i < src.length) {
          const e = src[i++];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e;
        } else s += d;
      }
      out.push({ kind: 'string', text: s, pos: start });
      continue;
    }
    const p = PUNCT.find((q) => src.startsWith(q, i));
    if (!p) throw err(i, `unexpected character '${c}'`);
    i += p.length;
    out.push({ kind: 'punct', text: p, pos: start });
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

/** Deepest nesting of parentheses and casts, and longest chain of `->`, `.` and `[N]`: far past any real expression, short of the stack's limit. */
const MAX_NESTING = 64;
const MAX_CHAIN = 256;

class Parser {
  /** Index of the next token. */
  i = 0;
  private depth = 0;
  constructor(
    readonly src: string,
    readonly toks: Token[],
  ) {}

  peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }
  next(): Token {
    return this.toks[Math.min(this.i++, this.toks.length - 1)];
  }
  is(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === text;
  }
  error(pos: number, msg: string): ExpressionError {
    return new ExpressionError(this.src, pos, msg);
  }
  describe(t: Token): string {
    return t.kind === 'end' ? 'the end' : t.kind === 'string' ? 'a string' : `'${t.text}'`;
  }
  expect(text: string, what = `'${text}'`): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) throw this.error(t.pos, `expected ${what}, found ${this.describe(t)}`);
    return t;
  }
  name(what: string): Token {
    const t = this.next();
    if (t.kind !== 'ident') throw this.error(t.pos, `expected ${what}, found ${this.describe(t)}`);
    return t;
  }

  /** True when the '(' at the cursor opens a cast rather than a parenthesised expression. */
  private atCast(): boolean {
    const first = this.peek(1);
    if (first.kind !== 'ident') return false;
    if (TYPE_WORDS.has(first.text)) return true;
    // `(name *...)` or `(name) operand`: a typedef name.
    let k = 2;
    while (this.is('*', k)) k++;
    if (!this.is(')', k)) return false;
    if (k > 2) return true;
    const after = this.peek(k + 1);
    return after.kind === 'ident' || (after.kind === 'punct' && after.text === '(');
  }

  typeName(): TypeName {
    const start = this.peek();
    const words: string[] = [];
    let tag: TypeName['tag'] = '';
    while (this.peek().kind === 'ident') {
      const w = this.next().text;
      if (w === 'const' || w === 'volatile') continue;
      if (w === 'struct' || w === 'union' || w === 'enum') {
        tag = w;
        words.push(this.name(`a ${w} name`).text);
        break;
      }
      words.push(w);
    }
    if (!words.length) throw this.error(this.peek().pos, `expected a type name, found ${this.describe(this.peek())}`);
    let pointers = 0;
    while (this.is('*') || (this.peek().kind === 'ident' && this.peek().text === 'const')) {
      if (this.next().text === '*') pointers++;
    }
    const end = this.peek().pos;
    return { tag, name: words.join(' '), pointers, pos: start.pos, text: this.src.slice(start.pos, end).trim() };
  }

  expr(): Expr {
    if (this.depth >= MAX_NESTING) throw this.error(this.peek().pos, `expression nested too deeply (at most ${MAX_NESTING} levels)`);
    this.depth++;
    try {
      return this.castOrPostfix();
    } finally {
      this.depth--;
    }
  }

  private castOrPostfix(): Expr {
    if (this.is('(') && this.atCast()) {
      const open = this.next();
      const ctype = this.typeName();
      this.expect(')', "')' after the type name");
      const operand = this.expr();
      return { type: 'cast', ctype, operand, pos: open.pos };
    }
    return this.postfix();
  }

  postfix(): Expr {
    let e: Expr;
    const t = this.peek();
    if (this.is('(')) {
      this.next();
      e = this.expr();
      this.expect(')', "')'");
    } else if (t.kind === 'ident') {
      this.next();
      e = { type: 'name', name: t.text, pos: t.pos };
    } else {
      throw this.error(t.pos, `expected a parameter name, found ${this.describe(t)}`);
    }
    for (let chain = 0; ; chain++) {
      const op = this.peek();
      if (chain >= MAX_CHAIN) throw this.error(op.pos, `too many '->', '.' and '[N]' in one expression (at most ${MAX_CHAIN})`);
      if (this.is('->') || this.is('.')) {
        this.next();
        const m = this.name(`a member name after '${op.text}'`);
        e = { type: 'member', object: e, member: m.text, arrow: op.text === '->', pos: op.pos, memberPos: m.pos };
      } else if (this.is('[')) {
        this.next();
        const n = this.next();
        if (n.kind !== 'number') throw this.error(n.pos, `expected a constant index, found ${this.describe(n)}`);
        this.expect(']', "']'");
        e = { type: 'index', object: e, index: Number(n.value), pos: op.pos };
      } else {
        return e;
      }
    }
  }

  suffix(): Suffix {
    const t = this.name(`a type after ':' (${SUFFIXES.join(', ')})`);
    const size = (required: boolean): number | undefined => {
      if (!this.is('[')) {
        if (required) throw this.error(this.peek().pos, `${t.text} needs a size: ${t.text}[N]`);
        return undefined;
      }
      this.next();
      const n = this.next();
      if (n.kind !== 'number') throw this.error(n.pos, `expected a size, found ${this.describe(n)}`);
      this.expect(']', "']'");
      return Number(n.value);
    };
    if (SCALAR_SUFFIXES.includes(t.text)) return { type: t.text as ScalarSuffix, pos: t.pos };
    switch (t.text) {
      case 'string':
      case 'ustring': {
        const max = size(false);
        return max === undefined ? { type: t.text, pos: t.pos } : { type: t.text, max, pos: t.pos };
      }
      case 'bytes':
        return { type: 'bytes', size: size(true)!, pos: t.pos };
      case 'enum':
      case 'flags':
        if (this.peek().kind === 'ident') return { type: t.text, name: this.next().text, pos: t.pos };
        return { type: t.text, pos: t.pos };
      default:
        throw this.error(t.pos, `unknown type '${t.text}'; use one of ${SUFFIXES.join(', ')}`);
    }
  }

  end(what: string): void {
    const t = this.peek();
    if (t.kind !== 'end') throw this.error(t.pos, `unexpected ${this.describe(t)} ${what}`);
  }
}

/** Source text of tokens [from, to), normalised: one space between words, none around punctuation. */
function textOf(toks: Token[], from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const t = toks[i];
    const word = t.kind === 'ident' || t.kind === 'number';
    const prevWord = i > from && (toks[i - 1].kind === 'ident' || toks[i - 1].kind === 'number');
    if (word && prevWord) out += ' ';
    out += t.kind === 'string' ? JSON.stringify(t.text) : t.text;
  }
  return out;
}

/** Parses one argument expression. Throws ExpressionError. */
export function parseArg(src: string): ArgSpec {
  const toks = tokenize(src);
  const p = new Parser(src, toks);
  let label: string | undefined;
  if (toks[0].kind === 'ident' && toks[1].kind === 'punct' && toks[1].text === '=') {
    label = toks[0].text;
    p.next();
    p.next();
  }
  const from = p.i;
  if (p.peek().kind === 'end') throw p.error(p.peek().pos, label ? `expected an expression after '${label}='` : 'empty expression');
  const expr = p.expr();
  const exprText = textOf(toks, from, p.i);
  let suffix: Suffix | undefined;
  if (p.is(':')) {
    p.next();
    suffix = p.suffix();
  }
  p.end(suffix ? 'after the type' : "(expected '->', '.', '[' or ':type')");
  return { source: src, label, expr, exprText, suffix };
}

/** Parses a filter: conditions joined by `&&`. Throws ExpressionError. */
export function parseConditions(src: string): Condition[] {
  const toks = tokenize(src);
  const p = new Parser(src, toks);
  const out: Condition[] = [];
  if (p.peek().kind === 'end') throw p.error(0, 'empty filter');
  for (;;) {
    const start = p.peek().pos;
    const from = p.i;
    if (p.is('!')) throw p.error(start, "'!' is not supported; use == 0 or !=");
    const left = p.expr();
    const leftText = textOf(toks, from, p.i);
    let suffix: Suffix | undefined;
    if (p.is(':')) {
      p.next();
      suffix = p.suffix();
    }
    const o = p.next();
    const ops = ['==', '!=', '<', '<=', '>', '>=', '&'];
    if (o.kind !== 'punct' || !ops.includes(o.text)) {
      if ((o.kind === 'punct' && (o.text === '&&' || o.text === '||')) || o.kind === 'end') {
        throw p.error(o.pos, `expected a comparison (${ops.join(' ')}) after '${leftText}'`);
      }
      if (o.kind === 'punct' && o.text === '=') throw p.error(o.pos, "use '==' to compare");
      throw p.error(o.pos, `expected a comparison (${ops.join(' ')}), found ${p.describe(o)}`);
    }
    const right = literal(p);
    out.push({ left, leftText, ...(suffix ? { suffix } : {}), op: o.text as CompareOp, opPos: o.pos, right, pos: start });
    const t = p.peek();
    if (t.kind === 'end') return out;
    if (p.is('||')) throw p.error(t.pos, "'||' is not supported: all conditions must hold; join them with '&&' (or attach a second probe)");
    if (!p.is('&&')) throw p.error(t.pos, `expected '&&' or the end, found ${p.describe(t)}`);
    p.next();
  }
}

function literal(p: Parser): Literal {
  const t = p.next();
  if (t.kind === 'number') return { type: 'number', value: t.value!, pos: t.pos, text: t.text };
  if (t.kind === 'punct' && t.text === '-') {
    const n = p.next();
    if (n.kind !== 'number') throw p.error(n.pos, `expected a number after '-', found ${p.describe(n)}`);
    return { type: 'number', value: -n.value!, pos: t.pos, text: `-${n.text}` };
  }
  if (t.kind === 'string') return { type: 'string', value: t.text, pos: t.pos };
  if (t.kind === 'ident') return { type: 'name', name: t.text, pos: t.pos };
  throw p.error(t.pos, `expected a number, a string or a constant name, found ${p.describe(t)}`);
}
