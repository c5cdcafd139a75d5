package bench

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// Machine describes where the numbers were measured.
type Machine struct {
	CPU        string   `json:"cpu"`        // /proc/cpuinfo model name
	CPUFlags   []string `json:"cpu_flags"`  // the vector extensions among the CPU's flags
	NumCPU     int      `json:"nproc"`      // CPUs this process may use
	MemoryGiB  float64  `json:"memory_gib"` // /proc/meminfo MemTotal
	Kernel     string   `json:"kernel"`     // uname -sr
	GoVersion  string   `json:"go_version"` // of this binary
	TensorFlow string   `json:"tensorflow"` // of the C library the Go binding runs on
	GOARCH     string   `json:"goarch"`
	Hostname   string   `json:"hostname,omitempty"`
}

// vectorFlags are the /proc/cpuinfo flags that matter for float32 kernels.
var vectorFlags = []string{"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"}

// DescribeMachine reads /proc/cpuinfo and /proc/meminfo (fields stay empty where they cannot be read).
func DescribeMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), TensorFlow: tf.Version(), GOARCH: runtime.GOARCH}
	m.Hostname, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			key, val, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			switch {
			case key == "model name" && m.CPU == "":
				m.CPU = val
			case key == "flags" && m.CPUFlags == nil:
				have := map[string]bool{}
				for _, f := range strings.Fields(val) {
					have[f] = true
				}
				m.CPUFlags = []string{}
				for _, f := range vectorFlags {
					if have[f] {
						m.CPUFlags = append(m.CPUFlags, f)
					}
				}
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64); err == nil {
					m.MemoryGiB = kb / (1 << 20)
				}
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	return m
}

// LoadAverage is /proc/loadavg's 1-minute load; -1 when it cannot be read.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
