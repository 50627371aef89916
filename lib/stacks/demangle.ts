/**
 * An Itanium C++ ABI demangler (the mangling GCC and Clang use on Linux):
 * `_ZN2v88internal9Execution4CallEPNS0_7IsolateE...` ->
 * `v8::internal::Execution::Call(v8::internal::Isolate*, ...)`.
 *
 * It parses a name into a small tree, keeping the table of substitution
 * candidates the ABI defines (S_, S0_, ...), then prints the tree the way
 * binutils' c++filt does (its verbose form: `std::basic_string<char, ...>`
 * for `Ss`, qualifiers after the type they qualify, `> >`), so that the
 * names match what other tools show. test/unit/demangle.test.ts holds it to
 * c++filt on every symbol of the node binary.
 *
 * demangle() returns undefined for what it cannot read; callers show the
 * name as it is then.
 */

/** A pointer-like modifier, printed after the type it applies to. */
type Sym = '*' | '&' | '&&';

type Node =
  | { k: 'name'; s: string }
  | { k: 'nested'; scope: Node; name: Node }
  | { k: 'template'; name: Node; args: Node[] }
  | { k: 'tagged'; name: Node; tag: string }
  | { k: 'ctor'; name: string; dtor: boolean }
  | { k: 'operator'; name: string }
  | { k: 'conversion'; type: Node }
  | { k: 'qual'; inner: Node; q: string }
  | { k: 'ptr'; inner: Node; sym: Sym }
  | { k: 'suffix'; inner: Node; s: string }
  | { k: 'func'; ret?: Node; params: Node[]; q: string }
  | { k: 'array'; inner: Node; dim: string | Node }
  | { k: 'memptr'; cls: Node; member: Node }
  | { k: 'pack'; inner: Node }
  | { k: 'argpack'; args: Node[] }
  | { k: 'tparam'; index: number }
  | { k: 'fparam'; index: number }
  | { k: 'encoding'; name: Node; type?: Node & { k: 'func' } }
  | { k: 'special'; prefix: string; inner: Node; suffix?: string }
  | { k: 'local'; fn: Node; entity: Node }
  | { k: 'lambda'; params: Node[]; n: number }
  | { k: 'literal'; type: Node; value: string }
  | { k: 'packsize'; inner: Node }
  | { k: 'expr'; parts: Array<string | Node> };

/** Builtin types by their one-letter code, and the suffix their literals take. */
const BUILTINS: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short', t: 'unsigned short',
  i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long', y: 'unsigned long long', n: '__int128',
  o: 'unsigned __int128', f: 'float', d: 'double', e: 'long double', g: '__float128', z: '...',
};
const D_BUILTINS: Record<string, string> = {
  d: 'decimal64', e: 'decimal128', f: 'decimal32', h: 'half', u: 'char8_t', s: 'char16_t', i: 'char32_t', n: 'decltype(nullptr)', a: 'auto', c: 'decltype(auto)',
};
const LITERAL_SUFFIX: Record<string, string> = { int: '', 'unsigned int': 'u', long: 'l', 'unsigned long': 'ul', 'long long': 'll', 'unsigned long long': 'ull' };
const FLOATS = new Set(['float', 'double', 'long double', '__float128', 'half']);

/** Operators: their printed form and how many operands they take in an expression. */
const OPERATORS: Record<string, [string, number]> = {
  aN: ['&=', 2], aS: ['=', 2], aa: ['&&', 2], ad: ['&', 1], an: ['&', 2], at: ['alignof ', 1], aw: ['co_await ', 1], az: ['alignof ', 1],
  cc: ['const_cast', 2], cl: ['()', 2], cm: [',', 2], co: ['~', 1], dV: ['/=', 2], da: ['delete[] ', 1], dc: ['dynamic_cast', 2],
  de: ['*', 1], dl: ['delete ', 1], ds: ['.*', 2], dt: ['.', 2], dv: ['/', 2], eO: ['^=', 2], eo: ['^', 2], eq: ['==', 2],
  ge: ['>=', 2], gs: ['::', 1], gt: ['>', 2], ix: ['[]', 2], lS: ['<<=', 2], le: ['<=', 2], li: ['operator"" ', 1], ls: ['<<', 2],
  lt: ['<', 2], mI: ['-=', 2], mL: ['*=', 2], mi: ['-', 2], ml: ['*', 2], mm: ['--', 1], na: ['new[]', 3], ne: ['!=', 2],
  ng: ['-', 1], nt: ['!', 1], nw: ['new', 3], nx: ['noexcept', 1], oR: ['|=', 2], oo: ['||', 2], or: ['|', 2], pL: ['+=', 2],
  pl: ['+', 2], pm: ['->*', 2], pp: ['++', 1], ps: ['+', 1], pt: ['->', 2], qu: ['?', 3], rM: ['%=', 2], rS: ['>>=', 2],
  rc: ['reinterpret_cast', 2], rm: ['%', 2], rs: ['>>', 2], sc: ['static_cast', 2], ss: ['<=>', 2], st: ['sizeof ', 1],
  sz: ['sizeof ', 1], tr: ['throw', 0], tw: ['throw ', 1],
};

/** The standard abbreviations: how c++filt prints them, and the name a constructor after them takes. */
const STD_SUBS: Record<string, [string, string]> = {
  a: ['std::allocator', 'allocator'],
  b: ['std::basic_string', 'basic_string'],
  s: ['std::basic_string<char, std::char_traits<char>, std::allocator<char> >', 'basic_string'],
  i: ['std::basic_istream<char, std::char_traits<char> >', 'basic_istream'],
  o: ['std::basic_ostream<char, std::char_traits<char> >', 'basic_ostream'],
  d: ['std::basic_iostream<char, std::char_traits<char> >', 'basic_iostream'],
};

const SPECIAL_T: Record<string, string> = { V: 'vtable for ', T: 'VTT for ', I: 'typeinfo for ', S: 'typeinfo name for ', F: 'typeinfo fn for ' };

class Fail extends Error {}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isUpper = (c: string) => c >= 'A' && c <= 'Z';
const isLower = (c: string) => c >= 'a' && c <= 'z';

class Parser {
  pos = 0;
  private readonly subs: Node[] = [];
  /** The last source name read: what a constructor or destructor is called. */
  private lastName = '';
  /** Qualifiers of the member function being named (`NK...E`: const). */
  private fnQuals = '';
  /** Reading a conversion operator's type: template arguments after a `T_` there are the operator's. */
  private inConversion = false;

  constructor(private readonly s: string) {}

  peek(at = 0): string {
    return this.s[this.pos + at] ?? '';
  }

  private next(): string {
    if (this.pos >= this.s.length) throw new Fail();
    return this.s[this.pos++];
  }

  private expect(c: string): void {
    if (this.next() !== c) throw new Fail();
  }

  private add(n: Node): Node {
    this.subs.push(n);
    return n;
  }

  private number(): number {
    const neg = this.peek() === 'n';
    if (neg) this.pos++;
    const start = this.pos;
    while (isDigit(this.peek())) this.pos++;
    if (start === this.pos) throw new Fail();
    const n = Number(this.s.slice(start, this.pos));
    return neg ? -n : n;
  }

  /** <non-negative number> _, as 0 for `_` and n + 1 for `n_`. */
  private compact(): number {
    if (this.peek() === '_') {
      this.pos++;
      return 0;
    }
    const n = this.number() + 1;
    this.expect('_');
    return n;
  }

  /** <mangled-name> ::= _Z <encoding> [<clone-suffix>]* */
  mangled(): Node {
    this.expect('_');
    this.expect('Z');
    let n = this.encoding();
    while (this.peek() === '.' && (isLower(this.peek(1)) || this.peek(1) === '_' || isDigit(this.peek(1)))) {
      const start = this.pos;
      this.pos++;
      while (isLower(this.peek()) || isDigit(this.peek()) || this.peek() === '_') this.pos++;
      while (this.peek() === '.' && isDigit(this.peek(1))) {
        this.pos++;
        while (isDigit(this.peek())) this.pos++;
      }
      n = { k: 'special', prefix: '', inner: n, suffix: ` [clone ${this.s.slice(start, this.pos)}]` };
    }
    return n;
  }

  /** <encoding>: a function (name and type), a data name, or a special name. `local`: printed without its return type. */
  private encoding(local = false): Node {
    if (this.peek() === 'T' || this.peek() === 'G') return this.special();
    const outerQuals = this.fnQuals;
    this.fnQuals = '';
    try {
      const name = this.name();
      const q = this.fnQuals;
      if (this.peek() === '' || this.peek() === 'E' || this.peek() === '.') return { k: 'encoding', name };
      const type = this.bareFunction(hasReturnType(name), q);
      if (local) type.ret = undefined;
      return { k: 'encoding', name, type };
    } finally {
      this.fnQuals = outerQuals;
    }
  }

  private special(): Node {
    const c = this.next();
    const d = this.next();
    if (c === 'T') {
      if (SPECIAL_T[d]) return { k: 'special', prefix: SPECIAL_T[d], inner: this.type() };
      if (d === 'h' || d === 'v') {
        this.callOffset(d);
        return { k: 'special', prefix: d === 'h' ? 'non-virtual thunk to ' : 'virtual thunk to ', inner: this.encoding() };
      }
      if (d === 'c') {
        this.callOffset(this.next());
        this.callOffset(this.next());
        return { k: 'special', prefix: 'covariant return thunk to ', inner: this.encoding() };
      }
      if (d === 'C') {
        const derived = this.type();
        if (this.number() < 0) throw new Fail();
        this.expect('_');
        const base = this.type();
        return { k: 'special', prefix: 'construction vtable for ', inner: { k: 'expr', parts: [base, '-in-', derived] } };
      }
      if (d === 'H' || d === 'W') return { k: 'special', prefix: d === 'H' ? 'TLS init function for ' : 'TLS wrapper function for ', inner: this.name() };
      if (d === 'A') return { k: 'special', prefix: 'template parameter object for ', inner: this.templateArg() };
      throw new Fail();
    }
    if (d === 'V') return { k: 'special', prefix: 'guard variable for ', inner: this.name() };
    if (d === 'R') {
      const inner = this.name();
      const n = isDigit(this.peek()) ? this.number() : 0;
      if (this.peek() === '_') this.pos++;
      return { k: 'special', prefix: `reference temporary #${n} for `, inner };
    }
    if (d === 'A') return { k: 'special', prefix: 'hidden alias for ', inner: this.encoding() };
    if (d === 'T') {
      const e = this.next();
      return { k: 'special', prefix: e === 'n' ? 'non-transaction clone for ' : 'transaction clone for ', inner: this.encoding() };
    }
    throw new Fail();
  }

  /** h <number> _ | v <number> _ <number> _ (the offsets are not printed). */
  private callOffset(kind: string): void {
    if (kind === 'h') {
      this.number();
      this.expect('_');
    } else if (kind === 'v') {
      this.number();
      this.expect('_');
      this.number();
      this.expect('_');
    } else throw new Fail();
  }

  /**
   * <name>: nested, local, unscoped (std:: or not), with template
   * arguments. `substable`: a type, whose name is a substitution candidate.
   */
  private name(substable = false): Node {
    const c = this.peek();
    let n: Node;
    let fromSub = false;
    if (c === 'N') n = this.nested();
    else if (c === 'Z') n = this.local();
    else {
      let scope: Node | undefined;
      if (c === 'S' && this.peek(1) === 't') {
        this.pos += 2;
        scope = { k: 'name', s: 'std' };
      }
      if (!scope && c === 'S') {
        n = this.substitution(false);
        fromSub = true;
      } else {
        const u = this.unqualified();
        n = scope ? { k: 'nested', scope, name: u } : u;
      }
      if (this.peek() === 'I') {
        if (!fromSub) this.add(n);
        n = { k: 'template', name: n, args: this.templateArgs() };
        fromSub = false;
      }
    }
    if (substable && !fromSub) this.add(n);
    return n;
  }

  /** N [<CV-qualifiers>] [<ref-qualifier>] <prefix> E */
  private nested(): Node {
    this.expect('N');
    let q = '';
    const cv = this.cvQualifiers();
    if (cv) q += cv;
    if (this.peek() === 'R' || this.peek() === 'O') q += this.next() === 'R' ? ' &' : ' &&';
    let n: Node | undefined;
    for (;;) {
      const c = this.peek();
      if (c === 'E') break;
      if (c === 'D' && (this.peek(1) === 'T' || this.peek(1) === 't')) {
        if (n) throw new Fail();
        n = this.type();
      } else if (c === 'I') {
        if (!n) throw new Fail();
        n = { k: 'template', name: n, args: this.templateArgs() };
      } else if (c === 'T') {
        if (n) throw new Fail();
        n = this.templateParam();
      } else if (c === 'M') {
        this.pos++;
        continue;
      } else if (c === 'S' && this.peek(1) !== 't') {
        if (n) throw new Fail();
        n = this.substitution(true);
        continue;
      } else {
        let scope = n;
        if (c === 'S') {
          this.pos += 2;
          if (scope) throw new Fail();
          scope = { k: 'name', s: 'std' };
          if (this.peek() === 'E') throw new Fail();
        }
        const u = this.unqualified();
        n = scope ? { k: 'nested', scope, name: u } : u;
      }
      if (this.peek() === 'E') break;
      this.add(n);
    }
    this.expect('E');
    if (!n) throw new Fail();
    if (q) this.fnQuals = q;
    return n;
  }

  /** [r] [V] [K], printed the other way round (`int const volatile`). */
  private cvQualifiers(): string {
    let q = '';
    for (;;) {
      const c = this.peek();
      if (c === 'r') q = ' restrict' + q;
      else if (c === 'V') q = ' volatile' + q;
      else if (c === 'K') q = ' const' + q;
      else return q;
      this.pos++;
    }
  }

  /** Z <encoding> E <entity> [<discriminator>] | Z <encoding> E s | Z <encoding> E d [n] _ <name> */
  private local(): Node {
    this.expect('Z');
    const fn = this.encoding(true);
    this.expect('E');
    if (this.peek() === 's') {
      this.pos++;
      this.discriminator();
      return { k: 'local', fn, entity: { k: 'name', s: 'string literal' } };
    }
    let defaultArg: number | undefined;
    if (this.peek() === 'd') {
      this.pos++;
      defaultArg = this.compact();
    }
    let entity = this.name();
    const bare = entity.k === 'lambda' || (entity.k === 'name' && entity.s.startsWith('{unnamed type#'));
    if (!bare) this.discriminator();
    if (defaultArg !== undefined) entity = { k: 'expr', parts: [`{default arg#${defaultArg + 1}}::`, entity] };
    return { k: 'local', fn, entity };
  }

  /** _ <digit> | __ <number> _ (a bare `_` counts as 0); not printed. */
  private discriminator(): void {
    if (this.peek() !== '_') return;
    this.pos++;
    const two = this.peek() === '_';
    if (two) this.pos++;
    const n = isDigit(this.peek()) ? this.number() : 0;
    if (two && n >= 10) this.expect('_');
  }

  /** <unqualified-name> [<abi-tags>] */
  private unqualified(): Node {
    const c = this.peek();
    let n: Node;
    if (isDigit(c)) n = this.sourceName();
    else if (isLower(c)) n = this.operatorName();
    else if (c === 'C' || (c === 'D' && this.peek(1) !== 'C')) n = this.ctorDtor();
    else if (c === 'D' && this.peek(1) === 'C') {
      this.pos += 2;
      const names: string[] = [];
      do names.push((this.sourceName() as { s: string }).s);
      while (this.peek() !== 'E');
      this.pos++;
      n = { k: 'name', s: `[${names.join(', ')}]` };
    } else if (c === 'L') {
      this.pos++;
      n = this.sourceName();
      this.discriminator();
    } else if (c === 'U' && this.peek(1) === 'l') n = this.lambda();
    else if (c === 'U' && this.peek(1) === 't') {
      this.pos += 2;
      n = this.add({ k: 'name', s: `{unnamed type#${this.compact() + 1}}` });
    } else throw new Fail();
    return this.abiTags(n);
  }

  private abiTags(n: Node): Node {
    const held = this.lastName;
    while (this.peek() === 'B') {
      this.pos++;
      n = { k: 'tagged', name: n, tag: (this.sourceName() as { s: string }).s };
    }
    this.lastName = held;
    return n;
  }

  private sourceName(): Node {
    const len = this.number();
    if (len <= 0 || this.pos + len > this.s.length) throw new Fail();
    const id = this.s.slice(this.pos, this.pos + len);
    this.pos += len;
    this.lastName = /^_GLOBAL_[._$]N/.test(id) ? '(anonymous namespace)' : id;
    return { k: 'name', s: this.lastName };
  }

  private operatorName(): Node {
    const code = this.s.slice(this.pos, this.pos + 2);
    this.pos += 2;
    if (code === 'cv') {
      const was = this.inConversion;
      this.inConversion = true;
      try {
        return { k: 'conversion', type: this.type() };
      } finally {
        this.inConversion = was;
      }
    }
    if (code[0] === 'v' && isDigit(code[1])) return { k: 'operator', name: `operator ${(this.sourceName() as { s: string }).s}` };
    const op = OPERATORS[code];
    if (!op) throw new Fail();
    if (code === 'li') return { k: 'operator', name: `operator"" ${(this.sourceName() as { s: string }).s}` };
    const text = op[0].trimEnd();
    return { k: 'operator', name: `operator${isLower(text[0]) ? ' ' : ''}${text}` };
  }

  private ctorDtor(): Node {
    const c = this.next();
    const d = this.next();
    if (c === 'C') {
      if (d === 'I') {
        this.next();
        this.type();
      } else if (!'12345'.includes(d)) throw new Fail();
      return { k: 'ctor', name: this.lastName, dtor: false };
    }
    if (!'012345'.includes(d)) throw new Fail();
    return { k: 'ctor', name: this.lastName, dtor: true };
  }

  /** Ul <params> E [n] _ */
  private lambda(): Node {
    this.pos += 2;
    const params = this.paramList();
    this.expect('E');
    return { k: 'lambda', params, n: this.compact() };
  }

  /** S_, S<seq>_, or a standard abbreviation (St, Sa, Ss, ...). */
  private substitution(prefix: boolean): Node {
    this.expect('S');
    const c = this.next();
    if (c === '_' || isDigit(c) || isUpper(c)) {
      let id = 0;
      if (c !== '_') {
        let d = c;
        while (d !== '_') {
          if (isDigit(d)) id = id * 36 + Number(d);
          else if (isUpper(d)) id = id * 36 + d.charCodeAt(0) - 55;
          else throw new Fail();
          d = this.next();
        }
        id++;
      }
      const n = this.subs[id];
      if (!n) throw new Fail();
      return n;
    }
    if (c === 't') return { k: 'name', s: 'std' };
    const std = STD_SUBS[c];
    if (!std) throw new Fail();
    this.lastName = std[1];
    void prefix;
    let n: Node = { k: 'name', s: std[0] };
    if (this.peek() === 'B') n = this.add(this.abiTags(n));
    return n;
  }

  private templateParam(): Node {
    this.expect('T');
    return { k: 'tparam', index: this.compact() };
  }

  /** I <template-arg>* E */
  private templateArgs(): Node[] {
    const held = this.lastName;
    this.pos++; // I or J
    const args: Node[] = [];
    while (this.peek() !== 'E') args.push(this.templateArg());
    this.pos++;
    this.lastName = held;
    return args;
  }

  private templateArg(): Node {
    const c = this.peek();
    if (c === 'X') {
      this.pos++;
      const e = this.expression();
      this.expect('E');
      return e;
    }
    if (c === 'L') return this.exprPrimary();
    if (c === 'I' || c === 'J') return { k: 'argpack', args: this.templateArgs() };
    return this.type();
  }

  /** [J] <return type>? <param types> up to E or the end. */
  private bareFunction(hasReturn: boolean, q: string): Node & { k: 'func' } {
    if (this.peek() === 'J') {
      this.pos++;
      hasReturn = true;
    }
    const ret = hasReturn ? this.type() : undefined;
    return { k: 'func', ret, params: this.paramList(), q };
  }

  /** Parameter types up to E, `.` or the end; a lone `void` means none. */
  private paramList(): Node[] {
    const params: Node[] = [];
    for (;;) {
      const c = this.peek();
      if (c === '' || c === 'E' || c === '.') break;
      if ((c === 'R' || c === 'O') && this.peek(1) === 'E') break;
      params.push(this.type());
    }
    if (!params.length) throw new Fail();
    if (params.length === 1 && params[0].k === 'name' && params[0].s === 'void') return [];
    return params;
  }

  /** F [Y] <bare-function-type> [<ref-qualifier>] E */
  private functionType(q = ''): Node & { k: 'func' } {
    this.expect('F');
    if (this.peek() === 'Y') this.pos++;
    const f = this.bareFunction(true, q);
    if (this.peek() === 'R' || this.peek() === 'O') f.q += this.next() === 'R' ? ' &' : ' &&';
    this.expect('E');
    return f;
  }

  type(): Node {
    const c = this.peek();
    if (c === 'r' || c === 'V' || c === 'K' || (c === 'D' && 'xoOw'.includes(this.peek(1)))) {
      let q = this.cvQualifiers();
      while (this.peek() === 'D' && 'xoOw'.includes(this.peek(1))) {
        this.pos++;
        const d = this.next();
        if (d === 'x') q += ' transaction_safe';
        else if (d === 'o') q += ' noexcept';
        else if (d === 'O') {
          q += ` noexcept(${print(this.expression())})`;
          this.expect('E');
        } else {
          this.paramList();
          this.expect('E');
          q += ' throw()';
        }
      }
      if (this.peek() === 'F') return this.add(this.functionType(q));
      const inner = this.type();
      return this.add({ k: 'qual', inner, q });
    }
    if (BUILTINS[c]) {
      this.pos++;
      return { k: 'name', s: BUILTINS[c] };
    }
    switch (c) {
      case 'u':
        this.pos++;
        return this.add(this.sourceName());
      case 'F':
        return this.add(this.functionType());
      case 'A':
        return this.add(this.arrayType());
      case 'M': {
        this.pos++;
        const cls = this.type();
        const member = this.type();
        return this.add({ k: 'memptr', cls, member });
      }
      case 'T': {
        let n = this.templateParam();
        if (this.peek() === 'I' && !this.inConversion) {
          this.add(n);
          n = { k: 'template', name: n, args: this.templateArgs() };
        }
        return this.add(n);
      }
      case 'P':
      case 'R':
      case 'O':
        this.pos++;
        return this.add({ k: 'ptr', inner: this.type(), sym: c === 'P' ? '*' : c === 'R' ? '&' : '&&' });
      case 'C':
      case 'G':
        this.pos++;
        return this.add({ k: 'suffix', inner: this.type(), s: c === 'C' ? ' _Complex' : ' _Imaginary' });
      case 'U': {
        this.pos++;
        const vendor = (this.sourceName() as { s: string }).s;
        if (this.peek() === 'I') this.templateArgs();
        return this.add({ k: 'suffix', inner: this.type(), s: ` ${vendor}` });
      }
      case 'D':
        return this.dType();
      default:
        return this.name(true);
    }
  }

  /** The D... types: decltype, pack expansion, vectors and the extra builtins. */
  private dType(): Node {
    this.pos++;
    const d = this.next();
    if (d === 'T' || d === 't') {
      const e = this.expression();
      this.expect('E');
      return this.add({ k: 'expr', parts: ['decltype (', e, ')'] });
    }
    if (d === 'p') return this.add({ k: 'pack', inner: this.type() });
    if (d === 'v') {
      let dim: string;
      if (this.peek() === '_') {
        this.pos++;
        dim = print(this.expression());
      } else dim = String(this.number());
      this.expect('_');
      return this.add({ k: 'suffix', inner: this.type(), s: ` __vector(${dim})` });
    }
    if (d === 'F') {
      const bits = this.number();
      if (this.peek() === 'b') {
        this.pos++;
        return { k: 'name', s: 'std::bfloat16_t' };
      }
      const x = this.peek() === 'x' ? 'x' : '';
      this.next();
      return { k: 'name', s: `_Float${bits}${x}` };
    }
    if (D_BUILTINS[d]) return { k: 'name', s: D_BUILTINS[d] };
    throw new Fail();
  }

  /** A <dimension> _ <type> */
  private arrayType(): Node {
    this.expect('A');
    let dim: string | Node = '';
    if (isDigit(this.peek())) dim = String(this.number());
    else if (this.peek() !== '_') dim = this.expression();
    this.expect('_');
    return { k: 'array', inner: this.type(), dim };
  }

  /** L <type> <value> E | L <mangled-name> E */
  private exprPrimary(): Node {
    this.expect('L');
    if (this.peek() === '_' || this.peek() === 'Z') {
      if (this.peek() === '_') this.pos++;
      this.expect('Z');
      const n = this.encoding();
      this.expect('E');
      // An object or a function named without its type is just its name.
      return n.k === 'encoding' && !n.type ? n.name : n;
    }
    const type = this.type();
    if (type.k === 'name' && type.s === 'decltype(nullptr)' && this.peek() === 'E') {
      this.pos++;
      return type;
    }
    const start = this.pos;
    while (this.peek() !== 'E') this.next();
    const value = this.s.slice(start, this.pos);
    this.pos++;
    return { k: 'literal', type, value };
  }

  /** Expressions (decltype, array bounds, non-type template arguments), printed as c++filt prints them. */
  expression(): Node {
    const c = this.peek();
    const c1 = this.peek(1);
    if (c === 'L') return this.exprPrimary();
    if (c === 'T') return this.templateParam();
    if (c === 's' && c1 === 'r') return this.unresolvedName();
    if (c === 's' && c1 === 'p') {
      this.pos += 2;
      return { k: 'pack', inner: this.expression() };
    }
    if (c === 'f' && c1 === 'p') {
      this.pos += 2;
      if (this.peek() === 'T') {
        this.pos++;
        return { k: 'fparam', index: 0 };
      }
      this.cvQualifiers();
      return { k: 'fparam', index: this.compact() + 1 };
    }
    if (isDigit(c) || (c === 'o' && c1 === 'n')) {
      if (c === 'o') this.pos += 2;
      const n = this.unqualified();
      return this.peek() === 'I' ? { k: 'template', name: n, args: this.templateArgs() } : n;
    }
    if ((c === 'i' || c === 't') && c1 === 'l') {
      this.pos += 2;
      const type = c === 't' ? this.type() : undefined;
      const list = this.exprList('E');
      return { k: 'expr', parts: [...(type ? [type] : []), '{', ...commaList(list), '}'] };
    }
    if (c === 'u') {
      this.pos++;
      const name = this.sourceName();
      const args: Node[] = [];
      while (this.peek() !== 'E') args.push(this.templateArg());
      this.pos++;
      return { k: 'expr', parts: [name, '(', ...commaList(args), ')'] };
    }
    const code = this.s.slice(this.pos, this.pos + 2);
    if (code === 'cv') {
      this.pos += 2;
      const type = this.type();
      if (this.peek() === '_') {
        this.pos++;
        return { k: 'expr', parts: ['(', type, ')', '(', ...commaList(this.exprList('E')), ')'] };
      }
      return { k: 'expr', parts: ['(', type, ')', sub(this.expression())] };
    }
    if (code === 'sZ') {
      // sizeof...(pack): c++filt prints the pack's length.
      this.pos += 2;
      return { k: 'packsize', inner: this.templateParam() };
    }
    const op = OPERATORS[code];
    if (!op) throw new Fail();
    this.pos += 2;
    const [text, arity] = op;
    if (code === 'st') return { k: 'expr', parts: [text, '(', this.type(), ')'] };
    if (arity === 0) return { k: 'expr', parts: [text] };
    if (arity === 1) {
      const postfix = (code === 'pp' || code === 'mm') && this.peek() !== '_';
      if ((code === 'pp' || code === 'mm') && !postfix) this.pos++;
      const operand = this.expression();
      if (postfix) return { k: 'expr', parts: [sub(operand), text] };
      if (code === 'gs') return { k: 'expr', parts: [text, operand] };
      // The address of a member function is written without its parameters.
      if (code === 'ad' && operand.k === 'encoding' && operand.type && !operand.type.q && operand.name.k === 'nested') return { k: 'expr', parts: [text, operand.name] };
      if (code === 'nx') return { k: 'expr', parts: [text, '(', operand, ')'] };
      return { k: 'expr', parts: [text, sub(operand)] };
    }
    if (arity === 2) {
      if (code === 'cc' || code === 'dc' || code === 'sc' || code === 'rc') {
        const type = this.type();
        return { k: 'expr', parts: [text, '<', type, '>(', this.expression(), ')'] };
      }
      const left = this.expression();
      if (code === 'cl') return { k: 'expr', parts: [sub(left), '(', ...commaList(this.exprList('E')), ')'] };
      let right: Node;
      if ((code === 'dt' || code === 'pt') && !((this.peek() === 'g' && this.peek(1) === 's') || (this.peek() === 's' && this.peek(1) === 'r'))) {
        right = this.unqualified();
        if (this.peek() === 'I') right = { k: 'template', name: right, args: this.templateArgs() };
      } else right = this.expression();
      if (code === 'ix') return { k: 'expr', parts: [sub(left), '[', right, ']'] };
      const gt = text === '>';
      return { k: 'expr', parts: [gt ? '(' : '', sub(left), text, sub(right), gt ? ')' : ''] };
    }
    if (code === 'qu') {
      const a = this.expression();
      const b = this.expression();
      const d = this.expression();
      return { k: 'expr', parts: [sub(a), '?', sub(b), ' : ', sub(d)] };
    }
    throw new Fail();
  }

  private exprList(end: string): Node[] {
    const out: Node[] = [];
    while (this.peek() !== end) out.push(this.expression());
    this.pos++;
    return out;
  }

  /** sr <type or qualifiers> <base name>: `T::x`, `A::B::f<int>`. */
  private unresolvedName(): Node {
    this.pos += 2;
    let scope: Node;
    if (this.peek() === 'N') {
      this.pos++;
      scope = this.type();
      while (this.peek() !== 'E') scope = { k: 'nested', scope, name: this.qualifierLevel() };
      this.pos++;
    } else if (isDigit(this.peek())) {
      scope = this.qualifierLevel();
      while (this.peek() !== 'E') scope = { k: 'nested', scope, name: this.qualifierLevel() };
      this.pos++;
    } else scope = this.type();
    let name = this.unqualified();
    if (this.peek() === 'I') name = { k: 'template', name, args: this.templateArgs() };
    return { k: 'nested', scope, name };
  }

  private qualifierLevel(): Node {
    const n = this.sourceName();
    return this.peek() === 'I' ? { k: 'template', name: n, args: this.templateArgs() } : n;
  }
}

/** An operand in an expression: in parentheses unless it is a plain name or parameter. */
function sub(n: Node): Node {
  if (n.k === 'name' || n.k === 'nested' || n.k === 'fparam') return n;
  return { k: 'expr', parts: ['(', n, ')'] };
}

function commaList(nodes: Node[]): Array<string | Node> {
  return nodes.flatMap((n, i) => (i ? [', ', n] : [n]));
}

/** Template functions have a return type in their mangling, except constructors, destructors and conversions. */
function hasReturnType(n: Node): boolean {
  if (n.k === 'local') return hasReturnType(n.entity);
  if (n.k !== 'template') return false;
  return !isCtorDtorConversion(n.name);
}

function isCtorDtorConversion(n: Node): boolean {
  if (n.k === 'nested') return isCtorDtorConversion(n.name);
  if (n.k === 'local') return isCtorDtorConversion(n.entity);
  if (n.k === 'tagged') return isCtorDtorConversion(n.name);
  return n.k === 'ctor' || n.k === 'conversion';
}

// ---- printing -------------------------------------------------------------

/**
 * What surrounds a type as it is printed, C declarator style: `*`, `&`,
 * ` const`, ` [10]`, or a function's name. `kind` says how the type joins it.
 */
interface Declarator {
  text: string;
  kind: 'none' | 'name' | 'mod' | 'array';
}

const NONE: Declarator = { text: '', kind: 'none' };

/**
 * The template arguments `T_` refers to, innermost last: a function whose
 * name is a template pushes its arguments while it prints, as c++filt does
 * (so a substituted type means what it means where it is printed).
 */
let templates: Node[][] = [];
/** The template being printed: a conversion operator inside it takes its arguments. */
let currentTemplate: Node[] | undefined;
/**
 * A reference to a template parameter keeps the template arguments in force
 * where it was first printed, and means the same where a substitution
 * repeats it (c++filt's rule, kept for names to match).
 */
let savedScopes = new Map<Node, Node[][]>();
/** Inside a pack expansion: which element each pack stands for. */
let packIndex = -1;
/** Inside a lambda's signature, template parameters are its `auto` parameters. */
let inLambda = false;

/** Runs `fn` with `args` as the innermost template arguments (none: unchanged). */
function withTemplate<T>(args: Node[] | undefined, fn: () => T): T {
  if (!args) return fn();
  const held = templates;
  templates = [...held, args];
  try {
    return fn();
  } finally {
    templates = held;
  }
}

/** The argument a template parameter stands for here, and the templates it was written under. */
function lookup(n: Node & { k: 'tparam' }, stack = templates): { arg: Node; under: Node[][] } {
  const args = stack[stack.length - 1];
  let arg = args?.[n.index];
  if (!arg) throw new Fail();
  if (arg.k === 'argpack' && packIndex >= 0) {
    arg = arg.args[packIndex];
    if (!arg) throw new Fail();
  }
  return { arg, under: stack.slice(0, -1) };
}

/** Prints `n`, a template parameter's argument, under the templates in force where it was written. */
function printUnder(under: Node[][], fn: () => string): string {
  const held = templates;
  templates = under;
  try {
    return fn();
  } finally {
    templates = held;
  }
}

/** Through template parameters to what they stand for (a type's shape decides how it prints). */
function resolve(n: Node): Node {
  let stack = templates;
  while (n.k === 'tparam' && !inLambda) {
    const found = lookup(n, stack);
    n = found.arg;
    stack = found.under;
  }
  return n;
}

/** The first template argument pack a pattern refers to. */
function findPack(n: Node | undefined, depth = 0): Node[] | undefined {
  if (!n || depth > 64) return undefined;
  switch (n.k) {
    case 'tparam': {
      if (inLambda) return undefined;
      const arg = templates[templates.length - 1]?.[n.index];
      return arg?.k === 'argpack' ? arg.args : undefined;
    }
    case 'qual':
    case 'ptr':
    case 'suffix':
    case 'array':
    case 'pack':
      return findPack(n.inner, depth + 1);
    case 'func':
      return findPack(n.ret, depth + 1) ?? n.params.map((p) => findPack(p, depth + 1)).find(Boolean);
    case 'template':
      return findPack(n.name, depth + 1) ?? n.args.map((p) => findPack(p, depth + 1)).find(Boolean);
    case 'nested':
      return findPack(n.scope, depth + 1) ?? findPack(n.name, depth + 1);
    case 'memptr':
      return findPack(n.cls, depth + 1) ?? findPack(n.member, depth + 1);
    case 'expr':
      return n.parts.map((p) => (typeof p === 'string' ? undefined : findPack(p, depth + 1))).find(Boolean);
    default:
      return undefined;
  }
}

/** Each element of a list as text (a pack expansion's elements joined), '' for an empty pack. */
function listParts(nodes: readonly Node[]): string[] {
  return nodes.map((n) => {
    if (n.k === 'pack') return expand(n.inner).join(', ');
    if (n.k === 'argpack') return printList(n.args);
    return print(n);
  });
}

/**
 * Elements joined as c++filt joins them: an element that prints nothing
 * takes the `, ` before it along only when nothing follows it (`<, void>`
 * for an empty pack and void; `<int>` for int and an empty pack).
 */
function joinParts(parts: readonly string[]): string {
  let rest = '';
  for (let i = parts.length - 1; i >= 0; i--) rest = i === parts.length - 1 ? parts[i] : parts[i] + (rest === '' ? '' : `, ${rest}`);
  return rest;
}

/** A list (parameters, template arguments), packs expanded. */
function printList(nodes: readonly Node[]): string {
  return joinParts(listParts(nodes));
}

/** A pack expansion: the pattern once per element of the pack it names. */
function expand(pattern: Node): string[] {
  const pack = findPack(pattern);
  if (!pack) return [`${print(sub(pattern))}...`];
  const held = packIndex;
  try {
    return pack.map((_, i) => {
      packIndex = i;
      return print(pattern);
    });
  } finally {
    packIndex = held;
  }
}

/**
 * `name<args>`, with c++filt's spacing: a space between `>`s, and none after
 * a list whose last element was an empty pack (c++filt drops the `, ` it had
 * written and still counts its space as the last character).
 */
function templateText(name: string, args: readonly Node[]): string {
  const parts = listParts(args);
  const list = joinParts(parts);
  const droppedTail = parts.length > 1 && parts[parts.length - 1] === '' && list !== '';
  return `${name}${name.endsWith('<') ? ' ' : ''}<${list}${list.endsWith('>') && !droppedTail ? ' ' : ''}>`;
}

function literal(type: Node, value: string): string {
  const t = print(type);
  const neg = value.startsWith('n');
  const digits = neg ? value.slice(1) : value;
  if (t in LITERAL_SUFFIX && /^\d+$/.test(digits)) return `${neg ? '-' : ''}${digits}${LITERAL_SUFFIX[t]}`;
  if (t === 'bool' && !neg && (digits === '0' || digits === '1')) return digits === '1' ? 'true' : 'false';
  return FLOATS.has(t) ? `(${t})${neg ? '-' : ''}[${digits}]` : `(${t})${neg ? '-' : ''}${digits}`;
}

/** The template a function's name is, if it is one: its arguments are what `T_` means in the function's type. */
function typedTemplate(name: Node): Node[] | undefined {
  const n = name.k === 'local' ? name.entity : name;
  return n.k === 'template' ? n.args : undefined;
}

/** The function `fn` printed around its name: `ret name(params) const`. */
function printEncoding(name: Node, type: (Node & { k: 'func' }) | undefined): string {
  if (!type) return print(name);
  const held = inLambda;
  inLambda = false;
  try {
    return withTemplate(typedTemplate(name), () => {
      const call = `${print(name)}(${printList(type.params)})${type.q}`;
      if (!type.ret) return call;
      const ret = resolve(type.ret);
      // A return type that wraps a function or an array prints around the name: `void (*f())()`.
      if (wrapsDeclarator(ret)) return printType(type.ret, { text: call, kind: 'name' });
      return `${print(type.ret)} ${call}`;
    });
  } finally {
    inLambda = held;
  }
}

function wrapsDeclarator(n: Node): boolean {
  for (let i = 0; i < 16; i++) {
    if (n.k === 'func' || n.k === 'array') return true;
    if (n.k === 'memptr') return resolve(n.member).k === 'func';
    if (n.k !== 'ptr' && n.k !== 'qual') return false;
    n = resolve(n.inner);
  }
  return false;
}

/** A type with what surrounds it. */
function printType(n: Node, d: Declarator): string {
  if (n.k === 'tparam') {
    if (inLambda) return printType({ k: 'name', s: `auto:${n.index + 1}` }, d);
    const { arg, under } = lookup(n);
    return printUnder(under, () => printType(arg, d));
  }
  switch (n.k) {
    case 'qual': {
      // A qualifier already pending right outside is printed once (`T const*` with T = `char const`).
      const pending = /^(?: const| volatile| restrict)+/.exec(d.text)?.[0] ?? '';
      const q = n.q.replace(/ (const|volatile|restrict)/g, (m) => (pending.includes(m) ? '' : m));
      if (!q) return printType(n.inner, d);
      if (q !== n.q) return printType({ ...n, q }, d);
      const inner = resolve(n.inner);
      if (inner.k === 'func') return printType({ ...inner, q: inner.q + n.q }, d);
      // A qualified array is an array of qualified elements: `char const (&) [10]`.
      if (inner.k === 'array') return printType({ ...inner, inner: { k: 'qual', inner: inner.inner, q: n.q } }, d);
      return printType(n.inner, { text: n.q + d.text, kind: 'mod' });
    }
    case 'ptr': {
      if (n.sym !== '*' && n.inner.k === 'tparam' && !inLambda) {
        const saved = savedScopes.get(n);
        if (!saved) savedScopes.set(n, templates);
        else if (saved !== templates) return printUnder(saved, () => printType(n, d));
      }
      // References to references collapse: & + && is &.
      const inner = resolve(n.inner);
      if (n.sym !== '*' && inner.k === 'ptr' && inner.sym !== '*') {
        if (inner.sym === '&' || inner.sym === n.sym) return printType(inner, d);
        return printType({ k: 'ptr', inner: inner.inner, sym: '&' }, d);
      }
      return printType(n.inner, { text: n.sym + d.text, kind: 'mod' });
    }
    case 'suffix':
      return printType(n.inner, { text: n.s + d.text, kind: 'mod' });
    case 'memptr': {
      const member = resolve(n.member);
      const cls = print(n.cls);
      return printType(n.member, { text: `${member.k === 'func' ? '' : ' '}${cls}::*${d.text}`, kind: 'mod' });
    }
    case 'array': {
      const dim = typeof n.dim === 'string' ? n.dim : print(n.dim);
      const text = d.kind === 'array' ? `${d.text}[${dim}]` : d.kind === 'none' ? ` [${dim}]` : ` (${d.text}) [${dim}]`;
      return printType(n.inner, { text, kind: 'array' });
    }
    case 'func': {
      const params = `(${printList(n.params)})${n.q}`;
      const call = d.kind === 'none' ? params : `(${d.text})${params}`;
      if (!n.ret) return call;
      // A function returning a pointer to a function prints inside its return type: `void (*(int))(char)`.
      if (wrapsDeclarator(resolve(n.ret))) return printType(n.ret, { text: call, kind: 'mod' });
      return `${print(n.ret)} ${call}`;
    }
    default: {
      const base = print(n);
      if (d.kind === 'none') return base;
      return d.kind === 'name' ? `${base} ${d.text}` : base + d.text;
    }
  }
}

/** Any node as text. */
function print(n: Node): string {
  switch (n.k) {
    case 'name':
      return n.s;
    case 'nested':
      return `${print(n.scope)}::${print(n.name)}`;
    case 'template': {
      const held = currentTemplate;
      currentTemplate = n.args;
      try {
        return templateText(print(n.name), n.args);
      } finally {
        currentTemplate = held;
      }
    }
    case 'tagged':
      return `${print(n.name)}[abi:${n.tag}]`;
    case 'ctor':
      return n.dtor ? `~${n.name}` : n.name;
    case 'operator':
      return n.name;
    case 'conversion':
      return `operator ${withTemplate(currentTemplate, () => print(n.type))}`;
    case 'tparam':
      return printType(n, NONE);
    case 'fparam':
      return n.index === 0 ? 'this' : `{parm#${n.index}}`;
    case 'argpack':
      return printList(n.args);
    case 'pack':
      return expand(n.inner).join(', ');
    case 'encoding':
      return printEncoding(n.name, n.type);
    case 'special':
      return `${n.prefix}${print(n.inner)}${n.suffix ?? ''}`;
    case 'local':
      return `${print(n.fn)}::${print(n.entity)}`;
    case 'lambda': {
      const held = inLambda;
      inLambda = true;
      try {
        return `{lambda(${printList(n.params)})#${n.n + 1}}`;
      } finally {
        inLambda = held;
      }
    }
    case 'literal':
      return literal(n.type, n.value);
    case 'packsize':
      return String(findPack(n.inner)?.length ?? 0);
    case 'expr':
      return n.parts.map((p) => (typeof p === 'string' ? p : print(p))).join('');
    default:
      return printType(n, NONE);
  }
}

/**
 * The demangled form of an Itanium C++ ABI name (`_Z...`), as c++filt prints
 * it; undefined for anything it cannot read.
 */
export function demangle(mangled: string): string | undefined {
  if (!mangled.startsWith('_Z')) return undefined;
  // A symbol version (`name@@GLIBCXX_3.4`) follows the name as it is.
  const at = mangled.indexOf('@');
  if (at > 0) {
    const name = demangle(mangled.slice(0, at));
    return name === undefined ? undefined : name + mangled.slice(at);
  }
  try {
    const p = new Parser(mangled);
    const tree = p.mangled();
    if (p.pos !== mangled.length) return undefined;
    templates = [];
    savedScopes = new Map();
    currentTemplate = undefined;
    packIndex = -1;
    inLambda = false;
    return print(tree);
  } catch (e) {
    if (e instanceof Fail || e instanceof RangeError) return undefined;
    throw e;
  }
}
