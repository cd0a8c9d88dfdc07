// Encodes the fixture cases and N random texts with tokenizers.js; see README.md.
// Usage (in a folder with @huggingface/tokenizers installed): node diff.mjs NAME N
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
const F = "/work/shared/fixtures/tokenizers/";
const name = process.argv[2], n = parseInt(process.argv[3] || "0");
const tj = JSON.parse(fs.readFileSync(F + name + "/tokenizer.json"));
const tc = JSON.parse(fs.readFileSync(F + name + "/tokenizer_config.json"));
const tok = new Tokenizer(tj, tc);
const cases = JSON.parse(fs.readFileSync(F + "cases.json"))[name].cases;
// seeded RNG
let seed = 12345 + name.length;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const pool = [..."abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,!?'\"-_:;()[]<>/\\@#$%^&*+=~`|{}"];
const extra = ["  ", "\n", "\t", "\r\n", "é", "e\u0301", "ﬁ", "①", "²", "Å", "ß", "İ", "Σ", "数", "猫", "の", "テ", "П", "م", "😀", "👍🏽", "\u200b", "\u200d", "\xa0", "\u3000", "\ufeff", "▁", "<s>", "</s>", "<unk>", "[CLS]", "[SEP]", "[PAD]", "<pad>", "<extra_id_0>", "[DEC]", "<image>", "ǅ", "ﬀ", "Ⅻ", "½", "ｶ", "ｱ", "\u0000", "\ufffd", "\u00ad", "\u0301", "가", "\u1100\u1161\u11a8", "🇺🇸", "#\ufe0f\u20e3"];
const texts = cases.map(c => c.text);
for (let i = 0; i < n; i++) {
  let s = "";
  const len = Math.floor(rnd() * 20);
  for (let j = 0; j < len; j++) {
    const r = rnd();
    if (r < 0.6) s += pool[Math.floor(rnd() * pool.length)];
    else if (r < 0.95) s += extra[Math.floor(rnd() * extra.length)];
    else s += String.fromCodePoint(Math.floor(rnd() * 0x2FFFF));
  }
  // drop lone surrogates
  s = s.replace(/[\ud800-\udfff]/g, (m, off, str) => m);
  if (!s.isWellFormed()) continue;
  texts.push(s);
}
const inL = [], outL = [];
for (const t of texts) {
  let e;
  try { e = tok.encode(t); } catch (err) { continue; }
  inL.push(JSON.stringify(t));
  outL.push(JSON.stringify({ text: t, ids: e.ids, decoded: tok.decode(e.ids, { skip_special_tokens: false }), decoded_skip_special: tok.decode(e.ids, { skip_special_tokens: true }) }));
}
fs.writeFileSync(`/tmp/tokjs/${name}.in`, inL.join("\n") + "\n");
fs.writeFileSync(`/tmp/tokjs/${name}.js.out`, outL.join("\n") + "\n");
