# Builds random_oracle.jsonl; see README.md. Run with the system python3 (python3-sentencepiece).
import json, sentencepiece as spm, unicodedata
out = []
def astral(s): return any(ord(c) > 0xFFFF for c in s)
for name in ["llama-legacy", "llama-metaspace", "bert-uncased"]:
    js = [json.loads(l) for l in open(f"/tmp/tokjs/{name}.js.out")][33:]  # skip the fixture cases
    k = 0
    for d in js:
        if name == "bert-uncased" and astral(d["text"]):
            continue  # tokenizers.js tests CJK ranges on UTF-16 units
        out.append({"tokenizer": name, "oracle": "tokenizers.js 0.2.0", "text": d["text"], "ids": d["ids"]})
        k += 1
        if k == 300: break
# spiece.model: TOKENIZER_ORACLE_DIR=/tmp/tokjs/t5spm go test ./input/tokenizer/ -run SentencePieceUnigram
sp = spm.SentencePieceProcessor(model_file="/tmp/tokjs/t5spm/spiece.model")
unk = sp.unk_id(); k = 0
for l in list(open("/tmp/tokjs/t5.in"))[33:]:  # texts diff.mjs wrote
    s = json.loads(l)
    if any(x in s for x in ["</s>", "<pad>", "<unk>", "<extra_id"]): continue
    if any(unicodedata.category(c).startswith("M") for c in s): continue  # grapheme quirk of tokenizers
    f = []
    for i in sp.encode(s):
        if i == unk and f and f[-1] == unk: continue
        f.append(i)
    out.append({"tokenizer": "t5", "oracle": "sentencepiece 0.1.97", "text": s, "ids": f})
    k += 1
    if k == 300: break
with open("/tmp/tokjs/random_oracle.jsonl", "w") as fo:
    for o in out: fo.write(json.dumps(o, ensure_ascii=False) + "\n")
print(len(out))
