#!/usr/bin/env bash
# The paper's protocol on the synthetic benchmark (issue 15): pretrain the plain ResNet (none) once on
# one set of species, write it as torchvision-named weights, fine-tune every attention variant × SEEDS
# from those weights on a fine-grained set of other species, and report the variants side by side with
# their paired differences to none. Recipes: configs/protocol_pretrain.yaml and
# configs/protocol_finetune.yaml; the scale comes from the environment variables below. One command:
#
#   bash scripts/protocol.sh                                   # the main pass: 5 variants × 3 seeds
#   GATE_FORMS="plain residual" INIT_LOGITS="6 2" RESOLUTIONS="96 192" bash scripts/protocol.sh
#                                                              # and the knobs: csca's gate form × init
#                                                              # logit, none vs csca at each resolution
#   bash scripts/protocol.sh -dry-run                          # print the plan, train nothing
#
# It writes, under RUNS (default runs/protocol):
#   pretrain/pretrain/none/seed<PRE_SEED>/    the pretraining run (and its one-run report)
#   pretrained-none.safetensors               its weights under torchvision's names (cmd/weights export)
#   finetune/main/finegrained/<variant>/seed<S>/      the main pass
#   finetune/csca-<form>-init<L>/finegrained/csca/seed<S>/   the gate passes (GATE_FORMS × INIT_LOGITS)
#   finetune/<N>px/finegrained/<variant>/seed<S>/     the resolution passes (RESOLUTIONS × RES_VARIANTS)
#   finetune/report.md, table.csv, paired.csv, runs.csv, *.png   cmd/report over every fine-tuning run
#   scratch-report/                           cmd/report over scripts/table1.sh's runs, when they exist
# and the two generated datasets under DATA (default data/protocol).
#
# Every step skips finished work: the datasets are generated once, a finished run is skipped and an
# interrupted one resumed (cmd/sweep, cmd/train -resume), the weights are exported once. Ctrl-C stops
# the running trainers with a checkpoint; run the same command again to go on. Changing the scale needs
# another RUNS and DATA (finished runs are never retrained, and a run cannot resume on other data).
set -euo pipefail
cd "$(dirname "$0")/.."

# The scale: every variable can be set from the environment.
DEPTH=${DEPTH:-18}                           # ResNet depth
WIDTH=${WIDTH:-0.5}                          # channel width multiplier of the pretrained and fine-tuned networks
IMAGE_SIZE=${IMAGE_SIZE:-96}                 # network input side (px) of the main fine-tuning pass
PRE_IMAGE_SIZE=${PRE_IMAGE_SIZE:-$IMAGE_SIZE} # network input side (px) of the pretraining
PRE_FIRST_CLASS=${PRE_FIRST_CLASS:-0}        # the pretraining set: species PRE_FIRST_CLASS ..
PRE_CLASSES=${PRE_CLASSES:-100}              #   .. PRE_FIRST_CLASS+PRE_CLASSES-1
PRE_PER_CLASS=${PRE_PER_CLASS:-100}          # images per pretraining species (90% for training)
PRE_SYNTH_SIZE=${PRE_SYNTH_SIZE:-128}        # side of the generated pretraining images (px)
PRE_EPOCHS=${PRE_EPOCHS:-15}
PRE_SEED=${PRE_SEED:-1}                      # train.seed of the pretraining run
FT_FIRST_CLASS=${FT_FIRST_CLASS:-$((PRE_FIRST_CLASS + PRE_CLASSES))} # the fine-grained set: species
FT_CLASSES=${FT_CLASSES:-20}                 #   FT_FIRST_CLASS .. FT_FIRST_CLASS+FT_CLASSES-1
FT_PER_CLASS=${FT_PER_CLASS:-100}            # images per fine-grained species (half for training)
FT_SYNTH_SIZE=${FT_SYNTH_SIZE:-224}          # side of the generated fine-grained images (px)
FT_EPOCHS=${FT_EPOCHS:-20}
DIFFICULTY=${DIFFICULTY:-0.3}                # of both sets
SEEDS=${SEEDS:-1,2,3}                        # fine-tuning seeds: every variant of a seed sees the same data order
VARIANTS=${VARIANTS:-none,fcn,ca,sa,csca}    # the main pass
GATE_FORM=${GATE_FORM:-residual}             # model.gate_form of the main pass
INIT_LOGIT=${INIT_LOGIT:-6}                  # model.gate_init_logit of the main pass
GATE_FORMS=${GATE_FORMS:-}                   # csca passes: every form here ..
INIT_LOGITS=${INIT_LOGITS:-}                 #   .. × every init logit here (empty: the main pass's)
RESOLUTIONS=${RESOLUTIONS:-}                 # resolution passes (px; IMAGE_SIZE is the main pass) ..
RES_VARIANTS=${RES_VARIANTS:-none,csca}      #   .. of these variants
PRE_EXTRA=${PRE_EXTRA:-}                     # more key=value overrides (space-separated) of the pretraining ..
FT_EXTRA=${FT_EXTRA:-}                       #   .. and of every fine-tuning run, e.g. "train.batch_size=32"
PARALLEL=${PARALLEL:-1}                      # runs at a time (threads are split between them)
RUNS=${RUNS:-runs/protocol}
DATA=${DATA:-data/protocol}
SCRATCH_RUNS=${SCRATCH_RUNS:-runs/table1}    # scripts/table1.sh's from-scratch runs, reported when there
PRE_CONFIG=configs/protocol_pretrain.yaml
FT_CONFIG=configs/protocol_finetune.yaml

dry=0
for a in "$@"; do
	case $a in
	-dry-run | --dry-run) dry=1 ;;
	*)
		echo "protocol: unknown argument $a: the only flag is -dry-run; the scale is set by environment variables (see the top of $0)" >&2
		exit 2
		;;
	esac
done

# Checks that would otherwise fail only after the pretraining.
if (( FT_FIRST_CLASS < PRE_FIRST_CLASS + PRE_CLASSES && PRE_FIRST_CLASS < FT_FIRST_CLASS + FT_CLASSES )); then
	echo "protocol: the pretraining species $PRE_FIRST_CLASS-$((PRE_FIRST_CLASS + PRE_CLASSES - 1)) and the fine-grained" \
		"species $FT_FIRST_CLASS-$((FT_FIRST_CLASS + FT_CLASSES - 1)) overlap: set FT_FIRST_CLASS to $((PRE_FIRST_CLASS + PRE_CLASSES)) or more" >&2
	exit 2
fi

echo "protocol: ResNet-$DEPTH ×$WIDTH; pretraining none on species $PRE_FIRST_CLASS-$((PRE_FIRST_CLASS + PRE_CLASSES - 1))" \
	"× $PRE_PER_CLASS images ($PRE_SYNTH_SIZE px, fed at $PRE_IMAGE_SIZE px, $PRE_EPOCHS epochs, seed $PRE_SEED);" \
	"fine-tuning $VARIANTS × seeds $SEEDS on species $FT_FIRST_CLASS-$((FT_FIRST_CLASS + FT_CLASSES - 1)) × $FT_PER_CLASS images" \
	"($FT_SYNTH_SIZE px, fed at $IMAGE_SIZE px, $FT_EPOCHS epochs, gates $GATE_FORM, init logit $INIT_LOGIT);" \
	"csca passes: forms [${GATE_FORMS:-}] × init logits [${INIT_LOGITS:-}]; resolution passes: [${RESOLUTIONS:-}] px of $RES_VARIANTS;" \
	"$PARALLEL at a time -> $RUNS"
start=$(date +%s)

# Ctrl-C reaches the sweep, which has its trainers checkpoint and stop; the script then stops too,
# rather than going on to the next step. A SIGTERM sent to the script alone is passed on to the sweep.
interrupted=0
child=
trap 'interrupted=1' INT
trap 'interrupted=1; if [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null || true; fi' TERM
stop_if_interrupted() {
	if [[ $interrupted == 1 ]]; then
		echo "protocol: interrupted after $(elapsed "$start"); run the same command again to go on" >&2
		exit 130
	fi
}

# sweep runs cmd/sweep with the given arguments and returns its status. It runs in the background so
# that a signal reaches the trap at once; the wait goes on until the sweep's trainers have checkpointed.
sweep() {
	"$bin/sweep" -trainer "$bin/train" "$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	while kill -0 "$child" 2>/dev/null; do
		rc=0
		wait "$child" || rc=$?
	done
	child=
	stop_if_interrupted
	return "$rc"
}

# elapsed prints the wall time since $1 (seconds since the epoch) as 1h02m03s.
elapsed() {
	local s=$(($(date +%s) - $1))
	printf '%dh%02dm%02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
}

# Build the tools once, so that no step recompiles them and every sweep uses the same trainer.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for tool in train sweep weights report; do
	go build -o "$bin/$tool" "./cmd/$tool"
done

# The keys this script sets, as -set arguments: the datasets, the scale and, for fine-tuning, the
# weights and the gates of the main pass.
pre_root=$DATA/pretrain
ft_root=$DATA/finegrained
pre_sets=(-set data.root="$pre_root"
	-set data.synthetic.first_class="$PRE_FIRST_CLASS" -set data.synthetic.classes="$PRE_CLASSES"
	-set data.synthetic.per_class="$PRE_PER_CLASS" -set data.synthetic.image_size="$PRE_SYNTH_SIZE"
	-set data.synthetic.difficulty="$DIFFICULTY"
	-set model.depth="$DEPTH" -set model.width_multiplier="$WIDTH"
	-set data.image_size="$PRE_IMAGE_SIZE" -set train.epochs="$PRE_EPOCHS")
for kv in $PRE_EXTRA; do pre_sets+=(-set "$kv"); done
ft_data_sets=(-set data.root="$ft_root"
	-set data.synthetic.first_class="$FT_FIRST_CLASS" -set data.synthetic.classes="$FT_CLASSES"
	-set data.synthetic.per_class="$FT_PER_CLASS" -set data.synthetic.image_size="$FT_SYNTH_SIZE"
	-set data.synthetic.difficulty="$DIFFICULTY")
weights=$RUNS/pretrained-none.safetensors
# An absolute path, so that the runs' config.yaml names the file wherever a trainer runs from.
weights_abs=$PWD/$weights
[[ $weights == /* ]] && weights_abs=$weights
ft_sets=("${ft_data_sets[@]}"
	-set model.depth="$DEPTH" -set model.width_multiplier="$WIDTH" -set model.pretrained="$weights_abs"
	-set train.epochs="$FT_EPOCHS")
ft_extra=()
for kv in $FT_EXTRA; do ft_extra+=(-set "$kv"); done
ft_sets+=("${ft_extra[@]}")

status=0
dry_flag=()
[[ $dry == 1 ]] && dry_flag=(-dry-run)

# (1) The two datasets, generated up front (a no-op when DATA holds them) so that parallel runs never
# generate one at the same time.
if [[ $dry == 0 ]]; then
	t=$(date +%s)
	"$bin/train" -prepare -config "$PRE_CONFIG" "${pre_sets[@]}" || { rc=$?; stop_if_interrupted; exit "$rc"; }
	"$bin/train" -prepare -config "$FT_CONFIG" "${ft_data_sets[@]}" "${ft_extra[@]}" || { rc=$?; stop_if_interrupted; exit "$rc"; }
	echo "protocol: datasets ready in $(elapsed "$t")"
fi

# (2) Pretraining: one run of none, skipped when finished, resumed when interrupted.
pre_run=$RUNS/pretrain/pretrain/none/seed$PRE_SEED
t=$(date +%s)
sweep -config "$PRE_CONFIG" -datasets pretrain -variants none -seeds "$PRE_SEED" \
	-parallel 1 -out "$RUNS/pretrain" "${pre_sets[@]}" "${dry_flag[@]}"
[[ $dry == 0 ]] && echo "protocol: pretraining done in $(elapsed "$t") (this invocation)"

# (3) Its weights under torchvision's names. Written beside and renamed, so an interrupted export is
# never taken for a finished one; written again when the pretraining run finished after the file.
if [[ $dry == 0 ]]; then
	if [[ -f $weights && $weights -nt $pre_run/summary.json ]]; then
		echo "protocol: $weights is up to date"
	else
		partial=${weights%.safetensors}.partial.safetensors
		"$bin/weights" export -force "$pre_run" "$partial" || { rc=$?; stop_if_interrupted; exit "$rc"; }
		mv "$partial" "$weights"
	fi
fi

# (4) Fine-tuning. sweep runs every variant of a seed with the same train.seed: the same data order
# and augmentation, so the report's differences to none are paired.
finetune() { # finetune PASS VARIANTS [-set key=value]...
	local pass=$1 variants=$2
	shift 2
	local t
	t=$(date +%s)
	echo "protocol: fine-tuning pass $pass: $variants × seeds $SEEDS"
	sweep -config "$FT_CONFIG" -datasets finegrained -variants "$variants" \
		-seeds "$SEEDS" -parallel "$PARALLEL" -out "$RUNS/finetune/$pass" "${ft_sets[@]}" "$@" "${dry_flag[@]}" || status=$?
	[[ $dry == 1 ]] || echo "protocol: pass $pass done in $(elapsed "$t") (this invocation)"
}

same_number() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

finetune main "$VARIANTS" -set data.image_size="$IMAGE_SIZE" \
	-set model.gate_form="$GATE_FORM" -set model.gate_init_logit="$INIT_LOGIT"

# csca with other gates. A pass with the main pass's gates would repeat its csca runs; it is left out.
if [[ -n $GATE_FORMS || -n $INIT_LOGITS ]]; then
	for form in ${GATE_FORMS:-$GATE_FORM}; do
		for logit in ${INIT_LOGITS:-$INIT_LOGIT}; do
			[[ $form == "$GATE_FORM" ]] && same_number "$logit" "$INIT_LOGIT" && continue
			finetune "csca-$form-init$logit" csca -set data.image_size="$IMAGE_SIZE" \
				-set model.gate_form="$form" -set model.gate_init_logit="$logit"
		done
	done
fi

# Other resolutions: are the parts, a few pixels wide at 96 px, what limits the gates?
for res in $RESOLUTIONS; do
	same_number "$res" "$IMAGE_SIZE" && continue
	finetune "${res}px" "$RES_VARIANTS" -set data.image_size="$res" \
		-set model.gate_form="$GATE_FORM" -set model.gate_init_logit="$INIT_LOGIT"
done
[[ $dry == 1 ]] && exit "$status"

# (5) The reports: the pretraining run alone, every fine-tuning run (one column per setting, paired
# differences to none), and the from-scratch runs of scripts/table1.sh when there are any.
echo
echo "== pretraining (none from scratch on species $PRE_FIRST_CLASS-$((PRE_FIRST_CLASS + PRE_CLASSES - 1))) =="
"$bin/report" "$RUNS/pretrain" || status=$?
echo
echo "== fine-tuned from the pretrained none (species $FT_FIRST_CLASS-$((FT_FIRST_CLASS + FT_CLASSES - 1))) =="
"$bin/report" "$RUNS/finetune" || status=$?
if [[ -d $SCRATCH_RUNS ]] && [[ -n $(find "$SCRATCH_RUNS" -name summary.json -print -quit) ]]; then
	echo
	echo "== from scratch (scripts/table1.sh, $SCRATCH_RUNS) =="
	"$bin/report" -paper -out "$RUNS/scratch-report" "$SCRATCH_RUNS" || status=$?
fi

echo
echo "protocol: wall time of this invocation $(elapsed "$start"); reports in $RUNS/finetune/report.md and $RUNS/pretrain/report.md" \
	"(each run's own wall time is in its summary.json)"
exit "$status"
