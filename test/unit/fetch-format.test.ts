/** How fetched values are shown (formatValue). */
import { ArgDecoder, FLAG_TABLES, compileArg, formatFlags, formatValue, kprobeContext } from '../../lib/fetch';
import { fixtureBtf } from '../helpers/kernel-fixture';

const d = (kind: ArgDecoder['kind'], size: number, signed = false, extra: Partial<ArgDecoder> = {}): ArgDecoder => ({
  kind, size, signed, type: 'x', ...extra,
});

describe('formatValue', () => {
  test('integers', () => {
    expect(formatValue(d('int', 4, true), 0xffffffffffffff9cn)).toBe('-100');
    expect(formatValue(d('int', 8, true), 42n)).toBe('42');
    expect(formatValue(d('uint', 8), 0xffffffffffffffffn)).toBe('18446744073709551615');
    expect(formatValue(d('uint', 4), 4096)).toBe('4096');
    expect(formatValue(d('int', 4, true), Buffer.from('9cffffffffffffff', 'hex'))).toBe('-100');
  });

  test('hex and pointers', () => {
    expect(formatValue(d('pointer', 8), 0xffff888012345678n)).toBe('0xffff888012345678');
    expect(formatValue(d('pointer', 8), 0n)).toBe('0x0');
    expect(formatValue(d('hex', 4), 0x40n)).toBe('0x40');
    // A signed value shown in hex uses its own width.
    expect(formatValue(d('hex', 4, true), 0xffffffffffffffffn)).toBe('0xffffffff');
    expect(formatValue(d('hex', 4, false, { bitSize: 3 }), 5n)).toBe('0x5');
  });

  test('bool and char', () => {
    expect(formatValue(d('bool', 1), 1n)).toBe('true');
    expect(formatValue(d('bool', 1), 0n)).toBe('false');
    expect(formatValue(d('char', 1), 0x41n)).toBe("'A'");
    expect(formatValue(d('char', 1), 10n)).toBe('10');
  });

  test('strings and bytes', () => {
    expect(formatValue(d('string', 256), Buffer.from('/etc/passwd'))).toBe('/etc/passwd');
    expect(formatValue(d('string', 256), Buffer.from('h\u00e9llo'))).toBe('h\u00e9llo');
    expect(formatValue(d('bytes', 4), Buffer.from([0xde, 0xad, 0xbe, 0xef]))).toBe('deadbeef');
  });

  test('enums by name, with the kernel values', () => {
    const btf = fixtureBtf();
    const a = compileArg('state', kprobeContext(btf.findFunction('cpuhp_invoke_callback')!));
    expect(formatValue(a.decode, 0xffffffffffffffffn)).toBe('CPUHP_INVALID');
    expect(formatValue(a.decode, 0n)).toBe('CPUHP_OFFLINE');
    expect(formatValue(a.decode, 100000n)).toBe('100000');
  });

  test('open flags', () => {
    const open = d('flags', 4, false, { flags: FLAG_TABLES.open });
    expect(formatValue(open, 0n)).toBe('O_RDONLY');
    expect(formatValue(open, 0o1101n)).toBe('O_WRONLY|O_CREAT|O_TRUNC');
    expect(formatValue(open, 0o2000002n)).toBe('O_RDWR|O_CLOEXEC');
    expect(formatValue(open, 0o2000000n)).toBe('O_RDONLY|O_CLOEXEC');
    expect(formatValue(open, 0x80000001n)).toBe('O_WRONLY|0x80000000');
    const btf = fixtureBtf();
    const filp = compileArg('flags', kprobeContext(btf.findFunction('filp_open')!));
    expect(formatValue(filp.decode, 0o101n)).toBe('O_WRONLY|O_CREAT');
  });

  test('flags from an enum of bits', () => {
    const flags = [
      { name: 'A', value: 1n },
      { name: 'B', value: 2n },
      { name: 'AB', value: 3n },
      { name: 'C', value: 0x10n },
    ];
    expect(formatFlags(flags, 3n)).toBe('AB');
    expect(formatFlags(flags, 0x13n)).toBe('A|B|C');
    expect(formatFlags(flags, 0x102n)).toBe('B|0x100');
    expect(formatFlags(flags, 0n)).toBe('0x0');
  });
});

