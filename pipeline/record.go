package pipeline

// Box is an axis-aligned bounding box in pixels of the original image (x1, y1 inclusive, x2, y2 exclusive).
type Box struct{ X1, Y1, X2, Y2 float64 }

// Record is one labelled image of a dataset index.
type Record struct {
	Path  string // absolute or relative to the working directory
	Label int    // 0-based class id
	BBox  *Box   // nil when the dataset has none
}

// Index is a dataset as read from disk: class names in class-id order and the official splits.
type Index struct {
	Format  string   // cub, dogs, cars, folder, synthetic
	Root    string   // the dataset root directory
	Classes []string // Classes[label] is the name of class label
	Train   []Record
	Test    []Record
	// Skipped lists what the index left out, each with the reason: files of an unsupported
	// format, files that are not regular files, hidden files and folders, listed images that are
	// missing (with datasets.SkipMissing).
	Skipped []Skipped
}

// Skipped is a file or folder a dataset index left out.
type Skipped struct {
	Path   string // as Record.Path: the root joined with the path inside the dataset
	Reason string // the same for every file left out for one cause, so that they can be grouped
}
