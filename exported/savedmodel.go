package exported

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	gpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/graph_go_proto"
	spb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_shape_go_proto"
	typb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	vpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/variable_go_proto"
	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"github.com/galeone/tensorflow/tensorflow/go/op"
	"google.golang.org/protobuf/proto"

	"github.com/finegrain/finegrain/internal/dirlock"
	"github.com/finegrain/finegrain/ops"
)

// TagServe is the tag of the serving MetaGraph, as tf.saved_model.SERVING.
const TagServe = "serve"

// PredictMethod is the method name of prediction signatures (tf.saved_model.PREDICT_METHOD_NAME).
const PredictMethod = "tensorflow/serving/predict"

// Signature is one entry of a SavedModel's signature map: named tensors of the graph.
type Signature struct {
	Inputs, Outputs map[string]tf.Output
	Method          string // "" means PredictMethod
}

// SavedModel is what Write puts in a SavedModel directory: a graph whose variables hold the values of
// a session, the signatures that name its entry points, and asset files.
type SavedModel struct {
	Graph      *ops.Graph
	Tags       []string // nil means {TagServe}
	Signatures map[string]Signature
	Assets     map[string][]byte // base name -> contents, written to assets/
}

// Write saves m with the variable values of sess (a session on m.Graph) as a TensorFlow SavedModel in
// dir: saved_model.pb (a MetaGraphDef whose SaverDef points at the graph's saver), variables/ written
// by SaveV2, and assets/. TensorFlow's C++ loader (tf.LoadSavedModel) and Python's tf.saved_model.load
// read it. dir must not exist or be empty; the model is written beside it and renamed into place, so a
// failed export leaves no partial model.
func Write(dir string, sess *tf.Session, m SavedModel) error {
	if err := checkEmpty(dir); err != nil {
		return err
	}
	if len(m.Signatures) == 0 {
		return fmt.Errorf("write SavedModel %s: no signatures", dir)
	}
	tags := m.Tags
	if len(tags) == 0 {
		tags = []string{TagServe}
	}
	g := m.Graph
	var sv *ops.Saver
	assetTensors := map[string]tf.Output{}
	err := ops.Catch("SavedModel saver", g, func() error {
		for _, name := range sortedKeys(m.Assets) {
			if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
				return fmt.Errorf("asset name %q: want a plain file name", name)
			}
			// The loaders feed an asset's absolute path into this tensor.
			s := g.Root().SubScope("asset_path")
			assetTensors[name] = op.Const(s.SubScope(name), name)
		}
		sv = g.Saver()
		return nil
	})
	if err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}

	meta, err := metaGraph(g, sv, tags, m.Signatures, assetTensors)
	if err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	b, err := proto.Marshal(&pb.SavedModel{SavedModelSchemaVersion: 1, MetaGraphs: []*pb.MetaGraphDef{meta}})
	if err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	return writeDir(dir, func(tmp string) error {
		if err := os.Mkdir(filepath.Join(tmp, "variables"), 0o755); err != nil {
			return err
		}
		if err := sv.SaveTo(sess, filepath.Join(tmp, "variables", "variables")); err != nil {
			return err
		}
		if err := writeAssets(tmp, m.Assets); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "saved_model.pb"), b, 0o644)
	})
}

// writeDir makes a directory beside dir, has fill write the SavedModel's files into it and renames
// it into place, so that a failed export leaves no partial model.
func writeDir(dir string, fill func(tmp string) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	os.Remove(dir) // an empty directory may stand in the way of the rename
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	}
	return nil
}

// writeAssets writes the asset files under tmp/assets.
func writeAssets(tmp string, assets map[string][]byte) error {
	if len(assets) == 0 {
		return nil
	}
	if err := os.Mkdir(filepath.Join(tmp, "assets"), 0o755); err != nil {
		return err
	}
	for name, data := range assets {
		if err := os.WriteFile(filepath.Join(tmp, "assets", name), data, 0o644); err != nil {
			return fmt.Errorf("asset %s: %w", name, err)
		}
	}
	return nil
}

// claimOutput prepares dir for one export: its parent must exist, one process at a time may write it
// (a lock file beside it, .<name>.lock, removed by the returned release), temporary directories left
// beside it by an export that was killed are removed, and dir itself must not exist or be empty.
func claimOutput(dir string) (release func(), err error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("export %s: the parent directory %s does not exist: create it first, or choose another -out", dir, parent)
	}
	lock, err := dirlock.Acquire(filepath.Join(parent, "."+base+".lock"))
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	release = func() { lock.Release() }
	entries, err := os.ReadDir(parent)
	if err != nil {
		release()
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	// Write names its temporary directories "."+base+".tmp-*"; while the lock is held no other export of
	// dir is writing one, so those that exist were left by a killed export.
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "."+base+".tmp-") {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				release()
				return nil, fmt.Errorf("export %s: remove what a killed export left: %w", dir, err)
			}
		}
	}
	if err := checkEmpty(dir); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return fmt.Errorf("write SavedModel %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("write SavedModel %s: directory exists and is not empty", dir)
	}
	return nil
}

// metaGraph builds the MetaGraphDef of g: the graph, the SaverDef of the graph's saver, the variables
// collections (Python's loader lifts the variables it finds there), signatures and assets.
func metaGraph(g *ops.Graph, sv *ops.Saver, tags []string, sigs map[string]Signature, assets map[string]tf.Output) (*pb.MetaGraphDef, error) {
	var buf bytes.Buffer
	if _, err := g.TF().WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("serialize graph: %w", err)
	}
	gd := &gpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), gd); err != nil {
		return nil, fmt.Errorf("parse graph: %w", err)
	}
	meta := &pb.MetaGraphDef{
		MetaInfoDef: &pb.MetaGraphDef_MetaInfoDef{
			Tags:              tags,
			TensorflowVersion: tf.Version(),
		},
		GraphDef: gd,
		SaverDef: &pb.SaverDef{
			FilenameTensorName:        tensorName(sv.Filename),
			SaveTensorName:            tensorName(sv.SaveTensor),
			RestoreOpName:             sv.Restore.Name(),
			MaxToKeep:                 5,
			KeepCheckpointEveryNHours: 10000,
			Version:                   pb.SaverDef_V2,
		},
		CollectionDef: map[string]*pb.CollectionDef{},
	}
	var all, trainable [][]byte
	for _, v := range g.Variables() {
		b, err := proto.Marshal(&vpb.VariableDef{
			VariableName:    tensorName(v.Handle),
			InitializerName: v.Init.Name(),
			SnapshotName:    tensorName(v.Value),
			IsResource:      true,
			Trainable:       v.Trainable,
		})
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		all = append(all, b)
		if v.Trainable {
			trainable = append(trainable, b)
		}
	}
	bytesList := func(v [][]byte) *pb.CollectionDef {
		return &pb.CollectionDef{Kind: &pb.CollectionDef_BytesList_{BytesList: &pb.CollectionDef_BytesList{Value: v}}}
	}
	if len(all) > 0 {
		meta.CollectionDef["variables"] = bytesList(all)
	}
	if len(trainable) > 0 {
		meta.CollectionDef["trainable_variables"] = bytesList(trainable)
	}
	defs, err := signatureDefs(sigs)
	if err != nil {
		return nil, err
	}
	meta.SignatureDef = defs
	for _, name := range sortedKeys(assets) {
		meta.AssetFileDef = append(meta.AssetFileDef, &pb.AssetFileDef{TensorInfo: tensorInfo(assets[name]), Filename: name})
	}
	return meta, nil
}

// signatureDefs is the SignatureDef map of sigs.
func signatureDefs(sigs map[string]Signature) (map[string]*pb.SignatureDef, error) {
	defs := make(map[string]*pb.SignatureDef, len(sigs))
	for name, sig := range sigs {
		def := &pb.SignatureDef{Inputs: map[string]*pb.TensorInfo{}, Outputs: map[string]*pb.TensorInfo{}, MethodName: sig.Method}
		if def.MethodName == "" {
			def.MethodName = PredictMethod
		}
		for k, o := range sig.Inputs {
			def.Inputs[k] = tensorInfo(o)
		}
		for k, o := range sig.Outputs {
			def.Outputs[k] = tensorInfo(o)
		}
		if len(def.Inputs) == 0 || len(def.Outputs) == 0 {
			return nil, fmt.Errorf("signature %s: needs inputs and outputs", name)
		}
		defs[name] = def
	}
	return defs, nil
}

func tensorName(o tf.Output) string { return fmt.Sprintf("%s:%d", o.Op.Name(), o.Index) }

func tensorInfo(o tf.Output) *pb.TensorInfo {
	shape := &spb.TensorShapeProto{}
	s := o.Shape()
	if s.NumDimensions() < 0 {
		shape.UnknownRank = true
	}
	for i := 0; i < s.NumDimensions(); i++ {
		shape.Dim = append(shape.Dim, &spb.TensorShapeProto_Dim{Size: s.Size(i)})
	}
	return &pb.TensorInfo{
		Encoding:    &pb.TensorInfo_Name{Name: tensorName(o)},
		Dtype:       typb.DataType(o.DataType()),
		TensorShape: shape,
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
