package train

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"

	spb "github.com/galeone/tensorflow/tensorflow/go/core/framework/summary_go_proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// EventWriter writes a TensorBoard event file: TFRecord framing around serialized tensorflow.Event
// protos. Event (tensorflow/core/util/event.proto) has no Go binding, so it is encoded by hand with
// protowire: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5
// (tensorflow.Summary), session_log = 7 (tensorflow.SessionLog).
type EventWriter struct {
	f    *os.File
	w    *bufio.Writer
	path string
	now  func() time.Time
}

// NewEventWriter creates dir and an event file in it named as TensorFlow names them
// (events.out.tfevents.<seconds>.<host>), starting with the file_version record.
func NewEventWriter(dir string) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("event file: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s.%d", now.Unix(), host, os.Getpid()))
	path := base
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	for i := 1; errors.Is(err, os.ErrExist) && i < 1000; i++ { // a resumed run within the same second
		path = fmt.Sprintf("%s.%d", base, i)
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("event file: %w", err)
	}
	ew := &EventWriter{f: f, w: bufio.NewWriter(f), path: path, now: time.Now}
	var ev []byte
	ev = protowire.AppendTag(ev, 1, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(wallTime(now)))
	ev = protowire.AppendTag(ev, 3, protowire.BytesType)
	ev = protowire.AppendString(ev, "brain.Event:2")
	if err := ew.record(ev); err != nil {
		f.Close()
		return nil, err
	}
	return ew, nil
}

// Path is the event file.
func (ew *EventWriter) Path() string { return ew.path }

// Scalars writes one event at step with a scalar value per tag.
func (ew *EventWriter) Scalars(step int64, values map[string]float64, order []string) error {
	s := &spb.Summary{}
	for _, tag := range order {
		v, ok := values[tag]
		if !ok || math.IsNaN(v) {
			continue
		}
		s.Value = append(s.Value, &spb.Summary_Value{Tag: tag, Value: &spb.Summary_Value_SimpleValue{SimpleValue: float32(v)}})
	}
	return ew.summary(step, s)
}

// Image writes a PNG-encoded image of height×width with channels colour channels under tag.
func (ew *EventWriter) Image(step int64, tag string, png []byte, height, width, channels int) error {
	s := &spb.Summary{Value: []*spb.Summary_Value{{Tag: tag, Value: &spb.Summary_Value_Image{Image: &spb.Summary_Image{
		Height: int32(height), Width: int32(width), Colorspace: int32(channels), EncodedImageString: png,
	}}}}}
	return ew.summary(step, s)
}

// Restart writes a SessionLog START at step: TensorBoard then drops the events of this run with that
// step or a larger one, which a resumed run writes again. The trainer's event steps are epochs.
func (ew *EventWriter) Restart(step int64) error {
	var sl []byte
	sl = protowire.AppendTag(sl, 1, protowire.VarintType)
	sl = protowire.AppendVarint(sl, 1) // SessionLog.START
	ev := ew.header(step)
	ev = protowire.AppendTag(ev, 7, protowire.BytesType)
	ev = protowire.AppendBytes(ev, sl)
	return ew.record(ev)
}

func (ew *EventWriter) summary(step int64, s *spb.Summary) error {
	b, err := proto.Marshal(s)
	if err != nil {
		return fmt.Errorf("event summary: %w", err)
	}
	ev := ew.header(step)
	ev = protowire.AppendTag(ev, 5, protowire.BytesType)
	ev = protowire.AppendBytes(ev, b)
	return ew.record(ev)
}

func (ew *EventWriter) header(step int64) []byte {
	var ev []byte
	ev = protowire.AppendTag(ev, 1, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(wallTime(ew.now())))
	ev = protowire.AppendTag(ev, 2, protowire.VarintType)
	ev = protowire.AppendVarint(ev, uint64(step))
	return ev
}

// Flush writes buffered events to the file.
func (ew *EventWriter) Flush() error {
	if err := ew.w.Flush(); err != nil {
		return fmt.Errorf("event file %s: %w", ew.path, err)
	}
	return nil
}

// Close flushes, syncs and closes the file.
func (ew *EventWriter) Close() error {
	err := ew.Flush()
	if serr := ew.f.Sync(); err == nil && serr != nil {
		err = fmt.Errorf("event file %s: %w", ew.path, serr)
	}
	if cerr := ew.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("event file %s: %w", ew.path, cerr)
	}
	return err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// record writes one TFRecord: length, masked CRC of the length, data, masked CRC of the data.
func (ew *EventWriter) record(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var foot [4]byte
	binary.LittleEndian.PutUint32(foot[:], maskedCRC(data))
	for _, b := range [][]byte{hdr[:], data, foot[:]} {
		if _, err := ew.w.Write(b); err != nil {
			return fmt.Errorf("event file %s: %w", ew.path, err)
		}
	}
	return nil
}

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
