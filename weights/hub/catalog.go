package hub

import (
	"fmt"
	"slices"
	"strings"
)

// Entry is one known weights file.
type Entry struct {
	Name    string   // the name model.pretrained and cmd/weights take: source/arch.tag
	Aliases []string // other accepted spellings (torchvision's enum names)
	Source  string   // torchvision or timm
	Depth   int      // ResNet depth: 18, 34, 50, 101
	URL     string
	File    string // the file's name in the cache directory under Source/
	// SHA256 is the full hex digest when it is known for certain; empty otherwise.
	SHA256 string
	// SHA256Prefix is the leading hex digits of the digest that are known (torchvision's file names
	// carry the first 8); empty when nothing is known.
	SHA256Prefix string
	// Size is the file's size in bytes when known for certain; 0 otherwise.
	Size int64
	// Top1 is the ImageNet-1k top-1 accuracy (percent) reported for the weights, at the evaluation
	// transform ResizeSize → CropSize (bilinear resize of the shorter side, centre crop).
	Top1                 float64
	ResizeSize, CropSize int
	// Reported says where Top1 and the evaluation transform come from and whether they were checked.
	Reported string
	Notes    string
}

// Known is the catalogue, in the order cmd/weights list prints it.
//
// torchvision's entries (URL, top-1, resize/crop) are those of torchvision's weight enums
// (ResNet50_Weights.IMAGENET1K_V2, ...); TestTorchvisionEntries compares them with the torchvision
// installed on the test machine. The sha256 prefix is the one in torchvision's file name. timm's
// entries follow timm's model cards on the Hugging Face hub and were not checked here (no network).
var Known = []Entry{
	tv(18, 1, "f37072fd", 69.758, 256),
	tv(34, 1, "b627a593", 73.314, 256),
	tv(50, 1, "0676ba61", 76.130, 256),
	tv(50, 2, "11ad3fa6", 80.858, 232),
	tv(101, 1, "63fe2227", 77.374, 256),
	tv(101, 2, "cd907fc2", 81.886, 232),
	{
		Name: "timm/resnet50.tv_in1k", Source: "timm", Depth: 50,
		URL:  "https://huggingface.co/timm/resnet50.tv_in1k/resolve/main/model.safetensors",
		File: "resnet50.tv_in1k.safetensors", Top1: 76.130, ResizeSize: 256, CropSize: 224,
		Reported: "torchvision's figure for these weights (timm's model card: torchvision's original ResNet-50 weights); not checked here",
		Notes:    "torchvision's IMAGENET1K_V1 weights as timm hosts them, in safetensors",
	},
	{
		Name: "timm/resnet50.tv2_in1k", Source: "timm", Depth: 50,
		URL:  "https://huggingface.co/timm/resnet50.tv2_in1k/resolve/main/model.safetensors",
		File: "resnet50.tv2_in1k.safetensors", Top1: 80.858, ResizeSize: 232, CropSize: 224,
		Reported: "torchvision's figure for these weights (timm's model card: torchvision's v2 recipe); not checked here",
		Notes:    "torchvision's IMAGENET1K_V2 weights as timm hosts them, in safetensors",
	},
	{
		Name: "timm/resnet50.a1_in1k", Source: "timm", Depth: 50,
		URL:  "https://huggingface.co/timm/resnet50.a1_in1k/resolve/main/model.safetensors",
		File: "resnet50.a1_in1k.safetensors", Top1: 80.4, ResizeSize: 235, CropSize: 224,
		Reported: "the A1 recipe's figure in \"ResNet strikes back\" (Wightman, Touvron, Jégou 2021) at 224 with crop ratio 0.95 (resize 235 = ⌊224/0.95⌋); not checked here",
		Notes:    "trained with a binary cross-entropy loss: its logits are meant for sigmoids, which does not matter for fine-tuning",
	},
}

// tv is a torchvision entry: ResNet-depth, IMAGENET1K_V<version>, whose URL carries the hash prefix.
func tv(depth, version int, prefix string, top1 float64, resize int) Entry {
	return Entry{
		Name:         fmt.Sprintf("torchvision/resnet%d.v%d", depth, version),
		Aliases:      []string{fmt.Sprintf("torchvision/resnet%d.IMAGENET1K_V%d", depth, version)},
		Source:       "torchvision",
		Depth:        depth,
		URL:          fmt.Sprintf("https://download.pytorch.org/models/resnet%d-%s.pth", depth, prefix),
		File:         fmt.Sprintf("resnet%d-%s.pth", depth, prefix),
		SHA256Prefix: prefix,
		Top1:         top1, ResizeSize: resize, CropSize: 224,
		Reported: fmt.Sprintf("torchvision's ResNet%d_Weights.IMAGENET1K_V%d metadata (checked against the installed torchvision by the tests)", depth, version),
	}
}

// Lookup finds a known entry by name or alias (case-insensitive).
func Lookup(name string) (Entry, bool) {
	for _, e := range Known {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
		for _, a := range e.Aliases {
			if strings.EqualFold(a, name) {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// Find is Lookup with an error that suggests the names that were probably meant.
func Find(name string) (Entry, error) {
	if e, ok := Lookup(name); ok {
		return e, nil
	}
	return Entry{}, fmt.Errorf("%q is not a known name; did you mean %s? (go run ./cmd/weights list shows them all)", name, strings.Join(suggest(trimSource(name)), ", "))
}

// trimSource drops a torchvision/ or timm/ prefix for suggestions.
func trimSource(name string) string {
	return strings.TrimPrefix(strings.TrimPrefix(name, "torchvision/"), "timm/")
}

// Names lists the known names in catalogue order.
func Names() []string {
	out := make([]string, len(Known))
	for i, e := range Known {
		out[i] = e.Name
	}
	return out
}

// suggest returns the known names that contain s (case-insensitive), or all names when none does.
func suggest(s string) []string {
	var out []string
	low := strings.ToLower(s)
	for _, e := range Known {
		if strings.Contains(strings.ToLower(e.Name), low) || slices.ContainsFunc(e.Aliases, func(a string) bool { return strings.Contains(strings.ToLower(a), low) }) {
			out = append(out, e.Name)
		}
	}
	if len(out) == 0 {
		return Names()
	}
	return out
}

// HashCheck says in words what a download of e is checked against (after the word "sha256").
func (e Entry) HashCheck() string {
	switch {
	case e.SHA256 != "":
		return e.SHA256 + " (full digest)"
	case e.SHA256Prefix != "":
		return fmt.Sprintf("prefix %s only: the first %d hex digits, from the file name, as torch.hub checks; the full digest is not recorded here", e.SHA256Prefix, len(e.SHA256Prefix))
	}
	return "not recorded here: a download is checked against the digest the server declares (X-Linked-Etag) when it declares one"
}
