// Package reliability holds the project's end-to-end reliability tests: they build the commands
// (cmd/train) with go build and run them as a user would, on a tiny configuration, under what real
// machines and users do to them.
//
//   - Kills: a training run is killed with SIGKILL at seeded random moments (during a training step,
//     during validation, while a checkpoint is being written, during the final test evaluation),
//     resumed each time, and must end with the weights, metrics and summary of a run that was never
//     interrupted; every checkpoint left on disk after each kill must restore.
//   - Full disks and read-only output: a file-size limit (RLIMIT_FSIZE), a small tmpfs, and a run
//     directory the trainer may not write give a clear error and leave the last good checkpoint intact.
//   - Bad configurations and bad data: malformed configurations, broken images and annotation files
//     give a precise message and a non-zero exit status, never a panic.
//   - Run directories: names read from a run's own files never lead outside it, -force deletes only
//     what a run writes, one process at a time writes a run or an export, damaged run state is named
//     and repaired, and a resume, evaluation or export that contradicts the checkpoint is refused.
//   - The paper's path: torchvision weights saved by torch.save, imported strictly, fine-tuned with a
//     tenth of the learning rate on the backbone, exported; logits equal torchvision's at step 0.
//   - Fuzzing: FuzzImagePath (in imagefuzz, kept apart so that its workers do not load TensorFlow)
//     drives whole files through the decoding and preprocessing path of the input pipeline;
//     scripts/fuzz.sh (make fuzz) finds and runs every fuzz target of the repository.
//
// The package has no code of its own. Its tests run with go test ./... (about a minute and a half on
// two cores, building cmd/train included); -short skips them all. A longer kill campaign:
//
//	go test ./internal/reliability -run KillResume -timeout 30m -reliability.long   (or FINEGRAIN_LONG=1)
//	go test ./internal/reliability -run KillResume -reliability.kills 40 -reliability.seed 2
//
// -reliability.bin DIR uses commands built beforehand (go build -o DIR ./cmd/train).
package reliability
