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
}
