// Package downloads fetches InstructBLIP checkpoints from the Hugging Face
// Hub into the Hugging Face cache and checks every byte of them.
//
// It knows a catalogue of the four Salesforce models (Catalogue) and takes
// any other repository of the same architecture as ORG/NAME[@REVISION]
// (ParseName). A Manager pulls, verifies, lists and removes models:
//
//   - Only the files a model needs are fetched (configs, safetensors shards
//     and their index, tokenizer files, qformer_tokenizer/), never the
//     legacy pickles.
//   - Storage is the cache layout transformers uses ($HF_HUB_CACHE,
//     $HF_HOME/hub or ~/.cache/huggingface/hub, models--ORG--NAME/ with
//     blobs/, snapshots/COMMIT/ and refs/), so files either side downloaded
//     are shared.
//   - Large files come in ranged parts over several connections; the parts'
//     progress is kept on disk beside the partial blob, so a download killed
//     at any point resumes without fetching finished bytes again.
//   - Every file is checked before use: SHA-256 for LFS files, the git blob
//     SHA-1 for small ones, the size always.
//
// The Hub's protocol, the cache layout and the on-disk part state are
// described in docs/models.md.
package downloads
