package weights

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/finegrain/finegrain/internal/pyref"
)

// torchFilesScript writes, with the system's torch, state dicts in every layout the reader handles,
// each as a zip file (torch >= 1.6's default) and a legacy one (_use_new_zipfile_serialization=False),
// and the expected tensors as a safetensors file written by hand (bf16 through an int16 view). argv:
// the output directory.
const torchFilesScript = `
import argparse, collections, json, struct, sys, torch
out = sys.argv[1]
torch.manual_seed(0)
base = torch.randn(4, 6)
sd = collections.OrderedDict()
sd['conv1.weight'] = torch.randn(8, 3, 3, 3)
sd['bn1.running_mean'] = torch.randn(8)
sd['bn1.num_batches_tracked'] = torch.tensor(7)
sd['half'] = torch.randn(5, 3).half()
sd['bf16'] = torch.randn(2, 7).bfloat16()
sd['double'] = torch.randn(3).double()
sd['long'] = torch.arange(-3, 3)
sd['flag'] = torch.tensor([True, False, True])
sd['scalar'] = torch.tensor(2.5)
sd['empty'] = torch.zeros(0, 4)
sd['transposed'] = base.t()             # a non-contiguous view
sd['slice'] = base[1:3]                 # a view at a storage offset, sharing base's storage
sd['strided'] = base[:, ::2]
sd['expanded'] = torch.randn(3, 1).expand(3, 4)
sd['param'] = torch.nn.Parameter(torch.randn(2, 2))

names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
         torch.int64: 'I64', torch.bool: 'BOOL'}
def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
save_safetensors(out + '/expected.safetensors', sd)

net = torch.nn.Sequential(torch.nn.Linear(3, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
net(torch.randn(4, 3)).sum().backward()
opt.step()
ddp = collections.OrderedDict(('module.' + k, v) for k, v in sd.items())
layouts = {
    'plain': sd,
    'wrapped_state_dict': {'epoch': 3, 'arch': 'resnet50', 'args': argparse.Namespace(lr=0.1, name='x'),
                           'state_dict': sd, 'optimizer': opt.state_dict(), 'best_acc1': torch.tensor(76.1)},
    'wrapped_model': {'model': sd, 'step': 10},
    'ddp': ddp,
    'ddp_wrapped': {'state_dict': ddp},
}
for name, obj in layouts.items():
    torch.save(obj, '%s/%s.pth' % (out, name))
    torch.save(obj, '%s/%s_legacy.pth' % (out, name), _use_new_zipfile_serialization=False)
torch.save(net, out + '/module.pth')
torch.save(net, out + '/module_legacy.pth', _use_new_zipfile_serialization=False)
torch.save({'model': net, 'epoch': 2}, out + '/wrapped_module.pth')
torch.save([torch.ones(2)], out + '/list.pth')
torch.save({'epoch': 1, 'optimizer': {}}, out + '/no_tensors.pth')
torch.jit.save(torch.jit.script(net), out + '/scripted.pt')
`

var torchFiles struct {
	sync.Mutex
	dir string
}

// torchFixtures writes the files of torchFilesScript once per test binary.
func torchFixtures(t *testing.T) string {
	t.Helper()
	py := pyref.Torch(t)
	torchFiles.Lock()
	defer torchFiles.Unlock()
	if torchFiles.dir == "" {
		dir, err := os.MkdirTemp("", "weights-torch")
		if err != nil {
			t.Fatal(err)
		}
		pyref.Run(t, py, torchFilesScript, dir)
		torchFiles.dir = dir
	}
	return torchFiles.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if torchFiles.dir != "" {
		os.RemoveAll(torchFiles.dir)
	}
	os.Exit(code)
}

// TestReadTorchLayouts reads every layout in both torch.save formats and requires each tensor to
// equal, dtype, shape and bytes, the contiguous copy torch wrote beside it; the wrapper and the
// stripped prefix are reported, and the checkpoint's other entries (an argparse.Namespace, optimizer
// state) do not get in the way.
func TestReadTorchLayouts(t *testing.T) {
	dir := torchFixtures(t)
	want, err := Read(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, format, wrapper, prefix string
	}{
		{"plain.pth", FormatTorchZip, "", ""},
		{"plain_legacy.pth", FormatTorchLegacy, "", ""},
		{"wrapped_state_dict.pth", FormatTorchZip, "state_dict", ""},
		{"wrapped_state_dict_legacy.pth", FormatTorchLegacy, "state_dict", ""},
		{"wrapped_model.pth", FormatTorchZip, "model", ""},
		{"wrapped_model_legacy.pth", FormatTorchLegacy, "model", ""},
		{"ddp.pth", FormatTorchZip, "", "module."},
		{"ddp_legacy.pth", FormatTorchLegacy, "", "module."},
		{"ddp_wrapped.pth", FormatTorchZip, "state_dict", "module."},
		{"ddp_wrapped_legacy.pth", FormatTorchLegacy, "state_dict", "module."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := Read(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != tc.format || f.Wrapper != tc.wrapper || f.Prefix != tc.prefix {
				t.Errorf("format %q wrapper %q prefix %q, want %q %q %q", f.Format, f.Wrapper, f.Prefix, tc.format, tc.wrapper, tc.prefix)
			}
			if !slices.Equal(f.Names(), want.Names()) {
				t.Fatalf("tensors %v, want %v", f.Names(), want.Names())
			}
			for _, n := range want.Names() {
				g, w := f.Tensors[n], want.Tensors[n]
				if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("%s: %s%v (%d bytes), want %s%v (%d bytes), equal bytes %v", n, g.DType, g.Shape, len(g.Data), w.DType, w.Shape, len(w.Data), bytes.Equal(g.Data, w.Data))
				}
			}
			if len(f.SHA256) != 64 || f.Size == 0 {
				t.Errorf("sha256 %q, size %d", f.SHA256, f.Size)
			}
		})
	}
}

// TestReadTorchRefusals: files that are not state dicts are errors that say what they are and what to
// do.
func TestReadTorchRefusals(t *testing.T) {
	dir := torchFixtures(t)
	for _, tc := range []struct{ file, msg string }{
		{"module.pth", "torch.save(model.state_dict(), PATH)"},
		{"module_legacy.pth", "torch.save(model.state_dict(), PATH)"},
		{"wrapped_module.pth", `under "model" a pickled torch.nn.modules.container.Sequential object`},
		{"list.pth", "not a state dict"},
		{"no_tensors.pth", "found keys [epoch optimizer]"},
		{"scripted.pt", "TorchScript"},
	} {
		_, err := Read(filepath.Join(dir, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.file, err, tc.msg)
		}
	}
	html := filepath.Join(t.TempDir(), "resnet50.pth")
	if err := os.WriteFile(html, []byte("<!DOCTYPE html><html>Not found</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(html); err == nil || !strings.Contains(err.Error(), "HTML error page") {
		t.Errorf("HTML page: error %v", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.pth")); err == nil || !strings.Contains(err.Error(), "missing.pth") {
		t.Errorf("missing file: error %v", err)
	}
}

// TestReadTorchTruncated cuts both formats at many points and flips bytes: always an error or a
// successful read, never a panic or a hang.
func TestReadTorchTruncated(t *testing.T) {
	dir := torchFixtures(t)
	for _, name := range []string{"wrapped_state_dict.pth", "wrapped_state_dict_legacy.pth"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i += max(1, len(b)/97) {
			if _, err := Decode(b[:i]); err == nil {
				t.Errorf("%s cut at %d of %d bytes: no error", name, i, len(b))
			}
			c := bytes.Clone(b)
			c[i] ^= 0x5a
			Decode(c) // may succeed (a flipped data byte); must not panic
		}
	}
}

// FuzzDecode: no input makes Decode panic, and every tensor of a successful read holds as many bytes
// as its dtype and shape say.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e})
	f.Add([]byte("PK\x03\x04"))
	f.Add(make([]byte, 1024))
	if b, err := EncodeSafetensors(map[string]*Tensor{"a": {DType: "F16", Shape: []int64{1}, Data: []byte{0, 0x3c}}}, nil); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			return
		}
		for name, tensor := range file.Tensors {
			size, _ := dtypeSize(tensor.DType)
			if int64(len(tensor.Data)) != Numel(tensor.Shape)*size {
				t.Fatalf("%s: %d bytes for %s%v", name, len(tensor.Data), tensor.DType, tensor.Shape)
			}
		}
	})
}
