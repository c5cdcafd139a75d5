// Package matfile reads MATLAB version 5 MAT-files (the format of MATLAB's save -v6 and -v7, and of
// scipy.io.savemat), for the subset that dataset annotation files use: numeric and logical arrays, char
// arrays, cell arrays and struct arrays, little- or big-endian, with or without zlib compression.
//
// Sparse matrices, function handles and MATLAB objects other than plain structs are read as values
// of their class without data; v7.3 files (HDF5) are rejected with an error that says so.
//
// The reader never trusts a length from the file: every size is checked against the bytes present
// before anything is allocated, so truncated or malformed input gives an error naming the variable,
// the element path inside it and the byte offset, never a panic.
package matfile
