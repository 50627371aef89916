/**
 * The C++ demangler against binutils' c++filt: on every mangled symbol of
 * the node binary running these tests (V8's and node's, some 79,000), and
 * on a table of the forms that matter, each checked against c++filt when
 * it was written.
 */
import { execFileSync } from 'child_process';
import { demangle } from '../../lib/stacks/demangle';
import { describeHost } from '../helpers/host';

jest.setTimeout(120_000);

/** Each case as c++filt 2.40 prints it. */
const CASES: Array<[string, string]> = [
  ['_ZN2v88internal9Execution4CallEPNS0_7IsolateENS0_6HandleINS0_6ObjectEEES6_iPS6_', 'v8::internal::Execution::Call(v8::internal::Isolate*, v8::internal::Handle<v8::internal::Object>, v8::internal::Handle<v8::internal::Object>, int, v8::internal::Handle<v8::internal::Object>*)'],
  ['_ZNSt6vectorISt4pairIiiESaIS1_EE9push_backERKS1_', 'std::vector<std::pair<int, int>, std::allocator<std::pair<int, int> > >::push_back(std::pair<int, int> const&)'],
  ['_Z1fPFviE', 'f(void (*)(int))'],
  ['_Z1fRA10_i', 'f(int (&) [10])'],
  ['_Z1fPA10_i', 'f(int (*) [10])'],
  ['_Z1fA10_Pi', 'f(int* [10])'],
  ['_Z1fRKPFvvE', 'f(void (* const&)())'],
  ['_Z1fM1AFviE', 'f(void (A::*)(int))'],
  ['_Z1fM1AKFvvE', 'f(void (A::*)() const)'],
  ['_Z1fM1Ai', 'f(int A::*)'],
  ['_Z1fPrVKi', 'f(int const volatile restrict*)'],
  ['_ZNK1A1fEv', 'A::f() const'],
  ['_ZNKR1A1fEv', 'A::f() const &'],
  ['_ZNKO1A1fEv', 'A::f() const &&'],
  ['_ZN1AC2Ev', 'A::A()'],
  ['_ZN1AD0Ev', 'A::~A()'],
  ['_ZNSsC1Ev', 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >::basic_string()'],
  ['_ZNSaIcED2Ev', 'std::allocator<char>::~allocator()'],
  ['_ZN1AIiEC1IdEET_', 'A<int>::A<double>(double)'],
  ['_ZZN1A1fEvE1x', 'A::f()::x'],
  ['_ZZ1fIiEvvE1x', 'f<int>()::x'],
  ['_ZZN1A1fEvEs', 'A::f()::string literal'],
  ['_ZZ1fvENKUliE_clEi', 'f()::{lambda(int)#1}::operator()(int) const'],
  ['_ZZ1fvENKUlvE0_clEv', 'f()::{lambda()#2}::operator()() const'],
  ['_ZZ1fvENUt0_E', 'f()::{unnamed type#2}'],
  ['_ZN12_GLOBAL__N_11fEv', '(anonymous namespace)::f()'],
  ['_ZN1fB5cxx11Ev', 'f[abi:cxx11]()'],
  ['_Z1fIiEvT_S0_', 'void f<int>(int, int)'],
  ['_Z1fIJidEEvDpT_', 'void f<int, double>(int, double)'],
  ['_Z1fIJEEvv', 'void f<>()'],
  ['_ZNKSt8functionIFviEEclEi', 'std::function<void (int)>::operator()(int) const'],
  ['_ZN1AcvT_IiEEv', 'A::operator int<int>()'],
  ['_ZN1AplERKS_', 'A::operator+(A const&)'],
  ['_ZdlPv', 'operator delete(void*)'],
  ['_Znwm', 'operator new(unsigned long)'],
  ['_ZNSt6vectorIiSaIiEEixEm', 'std::vector<int, std::allocator<int> >::operator[](unsigned long)'],
  ['_Z1fILj3EEvv', 'void f<3u>()'],
  ['_Z1fILb1EEvv', 'void f<true>()'],
  ['_Z1fILin3EEvv', 'void f<-3>()'],
  ['_Z1fIL4Enum1EEvv', 'void f<(Enum)1>()'],
  ['_Z1fIiEDTplfp_fp_ET_', 'decltype ({parm#1}+{parm#1}) f<int>(int)'],
  ['_Z1fIiEDTcl1gfp_EET_', 'decltype (g({parm#1})) f<int>(int)'],
  ['_Z1fv.constprop.0.isra.0', 'f() [clone .constprop.0] [clone .isra.0]'],
  ['_ZN1A1fEv.cold', 'A::f() [clone .cold]'],
  ['_ZTV1A', 'vtable for A'],
  ['_ZTI1A', 'typeinfo for A'],
  ['_ZThn8_N1A1fEv', 'non-virtual thunk to A::f()'],
  ['_ZTC1B0_1A', 'construction vtable for A-in-B'],
  ['_ZGVZ1fvE1x', 'guard variable for f()::x'],
  ['_Z1fDn', 'f(decltype(nullptr))'],
  ['_ZN2v88internalE', 'v8::internal'],
  ['_Z3foo', 'foo'],
  ['_Z1fDv4_f', 'f(float __vector(4))'],
  ['_ZTVNSt7__cxx1115basic_stringbufIcSt11char_traitsIcESaIcEEE@@GLIBCXX_3.4.21', 'vtable for std::__cxx11::basic_stringbuf<char, std::char_traits<char>, std::allocator<char> >@@GLIBCXX_3.4.21'],
];

describe('demangle', () => {
  test.each(CASES)('%s', (mangled, want) => {
    expect(demangle(mangled)).toBe(want);
  });

  test('what is not a mangled name, or is cut short, is undefined (callers show it as it is)', () => {
    for (const s of ['main', '_Z', '_ZN1A', '_Z1fPFvi', '_Z1fS_', '_Z9toolong', 'JS:~f /a.js:1']) expect(demangle(s)).toBeUndefined();
  });
});

describeHost('demangle against c++filt', { tools: ['nm', 'c++filt'] }, () => {
  test('every mangled symbol of the node binary reads as c++filt reads it', () => {
    const nm = execFileSync('nm', ['--defined-only', process.execPath], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const names = [...new Set(nm.split('\n').map((l) => l.split(' ')[2]).filter((n) => n?.startsWith('_Z')))];
    const want = execFileSync('c++filt', { input: names.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n');
    // A name neither demangler can read is shown as it is, by both.
    const wrong = names.filter((n, i) => (demangle(n) ?? n) !== want[i]);
    const rate = 1 - wrong.length / names.length;
    // eslint-disable-next-line no-console
    console.log(`demangle: ${names.length - wrong.length} of ${names.length} node symbols as c++filt prints them (${(rate * 100).toFixed(3)}%)`);
    expect(names.length).toBeGreaterThan(10_000);
    // Measured on node 20.20: every one. A newer node may bring a form or two not met yet.
    expect({ rate: rate >= 0.9995, firstWrong: wrong.slice(0, 5) }).toEqual({ rate: true, firstWrong: expect.any(Array) });
  });
});
