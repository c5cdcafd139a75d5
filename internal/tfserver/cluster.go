package tfserver

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	pb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
)

// Job is the name of the one job of the clusters this package builds.
const Job = "worker"

// Def describes one task of a cluster: the addresses of every task and the index of this one.
type Def struct {
	Cluster []string // host:port of task 0, 1, ...
	Task    int      // index into Cluster
	// IntraOpThreads and InterOpThreads size the task's thread pools (0: TensorFlow's choice, every
	// core). The task's devices take them from the server, not from the client's session options.
	IntraOpThreads int
	InterOpThreads int
	// CPUDevices splits the task's CPU into that many TensorFlow devices (0 or 1: one).
	CPUDevices int
}

// ParseCluster reads a comma-separated list of host:port addresses, one per task.
func ParseCluster(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("cluster %q: empty list, want host0:port,host1:port", list)
	}
	var addrs []string
	seen := map[string]int{}
	for i, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(a); err != nil {
			return nil, fmt.Errorf("cluster %q: task %d: %w", list, i, err)
		}
		if j, dup := seen[a]; dup {
			return nil, fmt.Errorf("cluster %q: task %d repeats the address %s of task %d", list, i, a, j)
		}
		seen[a] = i
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", a)
	}
	if host == "" {
		return fmt.Errorf("address %q: no host", a)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("address %q: port %q is not a number in 1..65535", a, port)
	}
	return nil
}

// Device is the name of device kind:index (for example CPU:0) of task in the cluster's job.
func Device(task int, kind string, index int) string {
	return fmt.Sprintf("/job:%s/replica:0/task:%d/device:%s:%d", Job, task, kind, index)
}

// Validate checks the cluster list and the task index.
func (d Def) Validate() error {
	if len(d.Cluster) == 0 {
		return fmt.Errorf("cluster: no task addresses")
	}
	for i, a := range d.Cluster {
		if err := checkAddr(a); err != nil {
			return fmt.Errorf("cluster task %d: %w", i, err)
		}
	}
	if d.Task < 0 || d.Task >= len(d.Cluster) {
		return fmt.Errorf("task index %d out of range: the cluster %s has tasks 0..%d", d.Task, strings.Join(d.Cluster, ","), len(d.Cluster)-1)
	}
	if d.IntraOpThreads < 0 || d.InterOpThreads < 0 || d.CPUDevices < 0 {
		return fmt.Errorf("task %d: negative thread or device count (intra %d, inter %d, cpu devices %d)", d.Task, d.IntraOpThreads, d.InterOpThreads, d.CPUDevices)
	}
	return nil
}

// Port is the port of this task's address, on which its server listens.
func (d Def) Port() int {
	_, port, _ := net.SplitHostPort(d.Cluster[d.Task])
	p, _ := strconv.Atoi(port)
	return p
}

// ServerDef is the TensorFlow ServerDef proto of this task.
func (d Def) ServerDef() (*pb.ServerDef, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	tasks := make(map[int32]string, len(d.Cluster))
	for i, a := range d.Cluster {
		tasks[int32(i)] = a
	}
	cfg := &pb.ConfigProto{
		IntraOpParallelismThreads: int32(d.IntraOpThreads),
		InterOpParallelismThreads: int32(d.InterOpThreads),
	}
	if d.CPUDevices > 1 {
		cfg.DeviceCount = map[string]int32{"CPU": int32(d.CPUDevices)}
	}
	return &pb.ServerDef{
		Cluster:              &pb.ClusterDef{Job: []*pb.JobDef{{Name: Job, Tasks: tasks}}},
		JobName:              Job,
		TaskIndex:            int32(d.Task),
		Protocol:             "grpc",
		Port:                 int32(d.Port()),
		DefaultSessionConfig: cfg,
	}, nil
}

// StartLocal starts every task of an n-task cluster in this process on loopback ports that were free a
// moment before (TensorFlow's create_local_cluster), for tests and measurements; threads sizes each
// task's intra-op pool. The servers serve until the process exits.
func StartLocal(n, threads int) ([]*Server, error) {
	addrs := make([]string, n)
	probes := make([]net.Listener, 0, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, p := range probes {
				p.Close()
			}
			return nil, fmt.Errorf("local cluster: %w", err)
		}
		probes = append(probes, l)
		addrs[i] = l.Addr().String()
	}
	for _, p := range probes {
		p.Close()
	}
	servers := make([]*Server, n)
	for i := range addrs {
		s, err := New(Def{Cluster: addrs, Task: i, IntraOpThreads: threads, InterOpThreads: 2})
		if err != nil {
			return nil, err
		}
		if err := s.Start(); err != nil {
			return nil, err
		}
		servers[i] = s
	}
	return servers, nil
}
