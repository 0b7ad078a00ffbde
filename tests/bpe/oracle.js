// The oracle: GPT-2 token ids from the npm package gpt-3-encoder for every record of a corpus
// written by make_corpus.py ("<byte length>\n<bytes>\n" each), one line of space-separated ids
// per record.   node oracle.js CORPUS > IDS
'use strict';
const fs = require('fs');
const { encode } = require('gpt-3-encoder');

const buf = fs.readFileSync(process.argv[2]);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }) // keep a leading U+FEFF;
const out = [];
let p = 0;
while (p < buf.length) {
  const nl = buf.indexOf(10, p);
  const n = parseInt(buf.toString('ascii', p, nl), 10);
  const text = utf8.decode(buf.subarray(nl + 1, nl + 1 + n));
  out.push(encode(text).join(' '));
  p = nl + 1 + n + 1;
}
process.stdout.write(out.join('\n') + '\n');
