// Package hub knows pretrained weights by name: a catalogue of torchvision's and timm's ImageNet
// ResNets with their source URL, what is known of their sha256, the ImageNet top-1 reported for them and
// the evaluation resize/crop; a local cache ($FINEGRAIN_WEIGHTS, default ~/.cache/finegrain/weights);
// a download into it that shows progress, resumes a partial file, verifies what is known of the hash
// and renames atomically; and Resolve, which turns model.pretrained (a path or a name) into a file
// without ever downloading behind the caller's back.
//
// What the catalogue knows is stated, not assumed: torchvision's file names embed the first 8 hex
// digits of the file's sha256 (torch.hub checks that prefix), and that prefix is what a download of
// torchvision's files is checked against; no full sha256 or file size is recorded where it could not
// be checked. For timm's files on the Hugging Face hub the full sha256 is the one the server declares
// (X-Linked-Etag) when it declares one, and a download without any known hash says so.
package hub
