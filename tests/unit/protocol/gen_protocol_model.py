#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Turn daemon/protocol/hyved_protocol.x into a C type model for the tests.

The unit tests write XDR sample bytes from this model with their own encoder
(proto_sample.c) and check that the rpcgen filters decode exactly those bytes
and re-encode them unchanged. The model is derived from the .x text, not from
rpcgen's output, so the two are independent.

Usage: gen_protocol_model.py hyved_protocol.x out.c
Understands the subset of the RPC language the .x uses: const, typedef,
struct, union switch (int ...), enum.
"""
import re
import sys

PRIMS = {
    'int': 'PT_INT', 'uint': 'PT_UINT', 'hyper': 'PT_HYPER', 'uhyper': 'PT_UHYPER',
    'char': 'PT_CHAR', 'uchar': 'PT_UCHAR', 'short': 'PT_SHORT', 'ushort': 'PT_USHORT',
    'bool': 'PT_BOOL', 'double': 'PT_DOUBLE', 'float': 'PT_FLOAT',
}
UNBOUNDED = 0xffffffff


class Parser:
    def __init__(self, text):
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
        text = '\n'.join(l for l in text.split('\n') if not l.lstrip().startswith('%'))
        self.toks = re.findall(r'[A-Za-z_][A-Za-z0-9_]*|0x[0-9a-fA-F]+|-?[0-9]+|[{}\[\]<>();,:=*]',
                               text)
        self.pos = 0
        self.consts = {}
        self.types = {}      # name -> node
        self.order = []      # named types in definition order
        self.enums = {}      # enum name -> [(member, value)]

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self):
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expect(self, tok):
        got = self.next()
        if got != tok:
            raise SyntaxError(f'expected {tok!r}, got {got!r} at token {self.pos}')

    def value(self, tok):
        if re.fullmatch(r'-?[0-9]+', tok):
            return int(tok)
        if tok.startswith('0x'):
            return int(tok, 16)
        if tok in self.consts:
            return self.consts[tok]
        raise SyntaxError(f'unknown constant {tok}')

    def type_spec(self):
        tok = self.next()
        if tok == 'unsigned':
            if self.peek() in ('int', 'hyper', 'char', 'short'):
                sub = self.next()
                return ('prim', 'uint' if sub == 'int' else 'u' + sub)
            return ('prim', 'uint')
        if tok in PRIMS:
            return ('prim', tok)
        if tok in ('string', 'opaque'):
            return (tok,)
        return ('ref', tok)

    def decl(self):
        base = self.type_spec()
        if base == ('prim', 'void') or (base[0] == 'ref' and base[1] == 'void'):
            return None, None
        if self.peek() == '*':
            self.next()
            return self.next(), ('opt', base)
        name = self.next()
        if self.peek() == '[':
            self.next()
            n = self.value(self.next())
            self.expect(']')
            if base == ('opaque',):
                return name, ('opaque_fixed', n)
            return name, ('fixed', base, n)
        if self.peek() == '<':
            self.next()
            n = UNBOUNDED if self.peek() == '>' else self.value(self.next())
            self.expect('>')
            if base == ('string',):
                return name, ('string', n)
            if base == ('opaque',):
                return name, ('opaque_var', n)
            return name, ('var', base, n)
        return name, base

    def define(self, name, node):
        self.types[name] = node
        self.order.append(name)

    def parse(self):
        while self.peek() is not None:
            kw = self.next()
            if kw == 'const':
                name = self.next()
                self.expect('=')
                self.consts[name] = self.value(self.next())
                self.expect(';')
            elif kw == 'typedef':
                name, node = self.decl()
                self.expect(';')
                self.define(name, node)
            elif kw == 'struct':
                name = self.next()
                self.expect('{')
                fields = []
                while self.peek() != '}':
                    fname, fnode = self.decl()
                    self.expect(';')
                    fields.append((fname, fnode))
                self.expect('}')
                self.expect(';')
                self.define(name, ('struct', name, fields))
            elif kw == 'union':
                name = self.next()
                self.expect('switch')
                self.expect('(')
                self.type_spec()
                self.next()
                self.expect(')')
                self.expect('{')
                arms = []
                while self.peek() != '}':
                    self.expect('case')
                    val = self.value(self.next())
                    self.expect(':')
                    fname, fnode = self.decl()
                    self.expect(';')
                    arms.append((val, fname, fnode))
                self.expect('}')
                self.expect(';')
                self.define(name, ('union', name, arms))
            elif kw == 'enum':
                name = self.next()
                self.expect('{')
                members = []
                while self.peek() != '}':
                    mname = self.next()
                    self.expect('=')
                    mval = self.value(self.next())
                    self.consts[mname] = mval
                    members.append((mname, mval))
                    if self.peek() == ',':
                        self.next()
                self.expect('}')
                self.expect(';')
                self.enums[name] = members
                self.define(name, ('enum', name, members))
            else:
                raise SyntaxError(f'unexpected {kw!r}')


class Emitter:
    def __init__(self, parser):
        self.p = parser
        self.anon = 0
        self.defs = []

    def ref(self, node, label):
        """C expression (address) for @node."""
        kind = node[0]
        if kind == 'ref':
            if node[1] not in self.p.types:
                raise SyntaxError(f'unknown type {node[1]}')
            return f'&T_{node[1]}'
        if kind == 'prim':
            return f'&proto_prim_{node[1]}'
        return '&' + self.emit(None, node, label)

    def emit(self, name, node, label):
        if name is None:
            self.anon += 1
            cname = f'A_{self.anon}'
            self.defs.append(f'static const ProtoType {cname};')
        else:
            cname = f'T_{name}'
        kind = node[0]
        members = 'NULL'
        nmembers = 0
        elem = 'NULL'
        bound = 0
        if kind == 'prim':
            body = f'{PRIMS[node[1]]}'
            # alias of a primitive
        elif kind == 'string':
            body, bound = 'PT_STRING', node[1]
        elif kind == 'opaque_fixed':
            body, bound = 'PT_OPAQUE_FIXED', node[1]
        elif kind == 'opaque_var':
            body, bound = 'PT_OPAQUE_VAR', node[1]
        elif kind == 'fixed':
            body, bound, elem = 'PT_FIXED_ARRAY', node[2], self.ref(node[1], label)
        elif kind == 'var':
            body, bound, elem = 'PT_VAR_ARRAY', node[2], self.ref(node[1], label)
        elif kind == 'opt':
            body, elem = 'PT_OPTIONAL', self.ref(node[1], label)
        elif kind == 'ref':
            # typedef of another named type: alias it
            return self.emit(name, self.p.types[node[1]], label)
        elif kind in ('struct', 'union', 'enum'):
            rows = []
            if kind == 'struct':
                body = 'PT_STRUCT'
                for fname, fnode in node[2]:
                    rows.append(f'{{ "{fname}", {self.ref(fnode, label + "." + fname)}, 0 }}')
            elif kind == 'union':
                body = 'PT_UNION'
                for val, fname, fnode in node[2]:
                    tref = 'NULL' if fnode is None else self.ref(fnode, label + '.' + fname)
                    rows.append(f'{{ "{fname}", {tref}, {val} }}')
            else:
                body = 'PT_ENUM'
                for mname, mval in node[2]:
                    rows.append(f'{{ "{mname}", NULL, {mval} }}')
            mname = f'M_{cname}'
            self.defs.append(f'static const ProtoMember {mname}[] = {{\n    ' +
                             ',\n    '.join(rows) + '\n};')
            members, nmembers = mname, len(rows)
        else:
            raise SyntaxError(f'cannot emit {node!r}')
        self.defs.append(f'static const ProtoType {cname} G_GNUC_UNUSED = {{ "{label}", {body}, {bound}u, '
                         f'{elem}, {members}, {nmembers} }};')
        return cname


def main():
    xfile, out = sys.argv[1], sys.argv[2]
    with open(xfile) as f:
        p = Parser(f.read())
    p.parse()
    procs = {m for m, _ in p.enums.get('remote_procedure', [])}

    em = Emitter(p)
    forward = [f'static const ProtoType T_{n};' for n in p.order]
    p.order = [n for n in p.order if n != 'remote_procedure']
    forward = [f'static const ProtoType T_{n};' for n in p.order]
    for name in p.order:
        em.emit(name, p.types[name], name)

    rows = []
    for name in p.order:
        node = p.types[name]
        if node[0] not in ('struct', 'union'):
            continue
        role, proc = 'type', '-1'
        for suffix in ('_args', '_ret', '_msg'):
            if name.startswith('remote_') and name.endswith(suffix):
                role = suffix[1:]
                pname = 'REMOTE_PROC_' + name[len('remote_'):-len(suffix)].upper()
                proc = pname if pname in procs else '-1'
        rows.append(f'    {{ "{name}", "{role}", {proc}, (xdrproc_t) xdr_{name}, '
                    f'sizeof({name}), &T_{name} }},')

    with open(out, 'w') as f:
        f.write('/* Generated by gen_protocol_model.py from hyved_protocol.x. Do not edit. */\n')
        f.write('#include "proto_model.h"\n#include "hyved_protocol.h"\n\n')
        f.write('\n'.join(forward) + '\n\n')
        f.write('\n'.join(em.defs) + '\n\n')
        f.write('const ProtoMessage proto_messages[] = {\n' + '\n'.join(rows) + '\n};\n')
        f.write(f'const gsize proto_nmessages = {len(rows)};\n')


if __name__ == '__main__':
    main()
