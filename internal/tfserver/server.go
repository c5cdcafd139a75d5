package tfserver

// #cgo LDFLAGS: -ltensorflow
// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Server is one task's TensorFlow server.
type Server struct {
	def     Def
	mu      sync.Mutex
	c       *C.TF_Server
	started bool
}

// New creates the server of task d.Task; it serves once started. A port another process holds is
// reported here, naming the address.
func New(d Def) (*Server, error) {
	sd, err := d.ServerDef()
	if err != nil {
		return nil, err
	}
	addr := d.Cluster[d.Task]
	// TensorFlow reports a port in use as "Could not start gRPC server" at best; probing first gives
	// the user the address. The server binds every interface, so the probe does too.
	l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(d.Port())))
	if err != nil {
		return nil, fmt.Errorf("task %d (%s): port %d already in use or not available: %w", d.Task, addr, d.Port(), err)
	}
	l.Close()
	b, err := proto.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("task %d (%s): server def: %w", d.Task, addr, err)
	}
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	cb := C.CBytes(b)
	defer C.free(cb)
	c := C.TF_NewServer(cb, C.size_t(len(b)), status)
	if err := statusErr(status); err != nil {
		return nil, fmt.Errorf("task %d (%s): new server: %w", d.Task, addr, err)
	}
	return &Server{def: d, c: c}, nil
}

// Start starts serving.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return errors.New("start server: closed")
	}
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	C.TF_ServerStart(s.c, status)
	if err := statusErr(status); err != nil {
		return fmt.Errorf("task %d (%s): start server: %w", s.def.Task, s.def.Cluster[s.def.Task], err)
	}
	s.started = true
	return nil
}

// Target is the grpc:// address a client session gives as tf.SessionOptions.Target to reach this task.
func (s *Server) Target() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return ""
	}
	return C.GoString(C.TF_ServerTarget(s.c))
}

// Def is the task this server runs.
func (s *Server) Def() Def { return s.def }

// Serve blocks until ctx is done or the server ends. TensorFlow cannot stop a started server, so when
// ctx ends first the server keeps serving in the background until the process exits; Serve just
// returns ctx's error.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	c, started := s.c, s.started
	s.mu.Unlock()
	if c == nil || !started {
		return errors.New("serve: server not started")
	}
	done := make(chan error, 1)
	go func() {
		status := C.TF_NewStatus()
		defer C.TF_DeleteStatus(status)
		C.TF_ServerJoin(c, status)
		done <- statusErr(status)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("task %d (%s): serve: %w", s.def.Task, s.def.Cluster[s.def.Task], err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close releases a server that was never started. A started server cannot be stopped by TensorFlow
// (deleting it would abort the process), so Close leaves it running and says so.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	if s.started {
		return fmt.Errorf("task %d (%s): close: TensorFlow cannot stop a started server; it serves until the process exits", s.def.Task, s.def.Cluster[s.def.Task])
	}
	C.TF_DeleteServer(s.c)
	s.c = nil
	return nil
}

func statusErr(s *C.TF_Status) error {
	if C.TF_GetCode(s) == C.TF_OK {
		return nil
	}
	return errors.New(C.GoString(C.TF_Message(s)))
}
