#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/NAME/) with the built `kbus encode`.
Without the binary, only the seeds that need none (signature, match_rule) are written.

usage: fuzz/make_seeds.py [PATH_TO_KBUS_BINARY]
"""
import hashlib
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
kbus = sys.argv[1] if len(sys.argv) > 1 else None

bodies = [
    ("", []),
    ("s", ["hello"]),
    ("ybnqiuxtd", [255, True, -32768, 65535, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 0.5]),
    ("og", ["/org/kbus/Obj_1", "a{sv}(ii)"]),
    ("a{sv}", [{"Label": {"type": "s", "data": "x"}, "Count": {"type": "u", "data": 3}, "Tags": {"type": "as", "data": ["a", "b"]}}]),
    ("a(isd)", [[[1, "one", 1.5], [2, "two", 2.5]]]),
    ("ay", [[0, 1, 2, 255]]),
    ("aai", [[[1, 2], [], [3]]]),
    ("a{ya{sv}}", [{"1": {"k": {"type": "v", "data": {"type": "i", "data": -1}}}}]),
    ("v", [{"type": "(a{bt}d)", "data": [{"true": 1}, -0.0]}]),
    ("a{dn}", [{"0.5": 1, "-1e+300": 2}]),
    ("hsh", [0, "two fds", 1]),
    ("at", [[]]),
    ("(ybnqiuxtdsog)", [[1, False, 2, 3, 4, 5, 6, 7, 8.0, "s", "/o", "g"]]),
]

headers = [
    {"type": "method_call", "serial": 1, "path": "/org/kbus/Demo", "interface": "org.kbus.Demo1", "member": "Echo",
     "destination": "org.kbus.Demo", "flags": []},
    {"type": "signal", "serial": 7, "path": "/", "interface": "org.kbus.S", "member": "Tick", "sender": ":1.5",
     "flags": ["no_reply_expected"]},
    {"type": "method_return", "serial": 9, "reply_serial": 1, "destination": ":1.2", "flags": []},
    {"type": "error", "serial": 3, "reply_serial": 2, "error_name": "org.kbus.Error.Failed", "flags": ["no_auto_start"]},
]


def write(target, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for i, (sig, data) in enumerate(bodies if kbus else []):
    header = dict(headers[i % len(headers)])
    if "h" in sig:
        header["unix_fds"] = 2
    text = json.dumps({"header": header, "body": {"type": sig, "data": data}})
    write("json", text.encode())
    for order in ([], ["--big-endian"]):
        raw = subprocess.run([kbus, "encode", *order], input=text.encode(), capture_output=True, check=True).stdout
        write("message", raw)
        # The body alone after "SIGNATURE\0" padded to 8, as fuzz/targets/body.cpp reads it.
        body_len = int.from_bytes(raw[4:8], "big" if raw[0:1] == b"B" else "little")
        body = raw[len(raw) - body_len:]
        prefix = sig.encode() + b"\0"
        prefix += b"\0" * ((8 - len(prefix) % 8) % 8)
        write("body", prefix + body)

for s in ["", "i", "a{sv}", "(ii)", "a(ysa{sv})", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaai", "((((((((((((((((((((((((((((((((i))))))))))))))))))))))))))))))))",
          "a{vs}", "{sv}", "a{sv", "((", "a", "v", "yyyyy", "m", "a{s(ii)}", "(a{sv})"]:
    write("signature", s.encode())

# Match rules: every key, quoting and escaping, arguments near the limits, and refusals.
for r in ["", "type='signal'", "type='method_call',member='Get',path='/org/kbus'",
          "type='method_return',sender=':1.7',destination=':1.8'", "type='error',eavesdrop='true'",
          "interface='org.kbus.Demo1',member='Changed'", "path_namespace='/org/kbus'", "path_namespace='/'",
          "sender='org.kbus.Demo',path='/'", "arg0='x',arg1='y',arg63='z'", "arg2path='/org/kbus/'",
          "arg0namespace='org.kbus'", "arg0namespace='org.kbus',arg1='a'", "arg0='don'\\''t'",
          "arg0='',arg3path=''", " type = 'signal' , member='M',", "member=Unquoted,interface=org.a.b",
          "type='signal',type='signal'", "path='/a',path_namespace='/a'", "arg64='x'", "arg0namespace='1a'",
          "arg1namespace='a'", "eavesdrop='maybe'", "foo='bar'", "arg0='unterminated", "argpath='/'",
          "arg01='x'", "arg0='a',arg0path='/a'", "path='//'", "type='signal',sender='org.x',interface='org.x.Y',"
          "member='Z',path='/o',destination=':1.1',eavesdrop='false',arg0='a',arg1path='/b/',arg0namespace='a'"]:
    write("match_rule", r.encode())
