// Package tfserver runs TensorFlow's distributed-runtime server (the gRPC worker and master that
// tf.distribute and tf.compat.v1.train.Server use) inside a Go process, through the server API of
// TensorFlow's C library (TF_NewServer and friends), which the Go bindings do not wrap.
//
// A cluster here is one job, "worker", whose task i listens on the i-th address of a list
// ("host0:port,host1:port"). A client reaches it with tf.SessionOptions.Target set to a task's
// grpc:// target and places ops on "/job:worker/task:i" devices.
//
// TensorFlow cannot stop a started gRPC server (GrpcServer::Stop answers "Unimplemented"), so a server
// lives until its process ends: Close releases a server that never started, and commands exit the
// process to stop one that did.
package tfserver
