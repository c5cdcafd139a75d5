// Package datasets reads the indexes of fine-grained image datasets from disk into a pipeline.Index:
// class names from the dataset's own files, and the official train/test splits with labels and, where
// the dataset has them, bounding boxes. It reads annotation files only; images are decoded elsewhere.
//
// Formats (the first argument of Open):
//
//   - "cub": CUB-200-2011. images.txt ("<id> <path under images/>"), image_class_labels.txt
//     ("<id> <class id>", 1-based), train_test_split.txt ("<id> <1 if train else 0>"), classes.txt
//     ("<class id> <name>"; a leading "NNN." is dropped from the name) and, if present,
//     bounding_boxes.txt ("<id> <x> <y> <width> <height>", giving Box{x, y, x+width, y+height}).
//   - "synthetic": the CUB layout written by package synth.
//   - "dogs": Stanford Dogs. lists/train_list.mat and lists/test_list.mat (variables file_list, a
//     cell of paths under Images/, and labels, 1-based). Class k is the folder of the images labelled
//     k ("n02085620-Chihuahua"), named without its WordNet id ("Chihuahua").
//   - "cars": Stanford Cars, in whichever of three layouts the root holds (checked in this order):
//     1. cars_annos.mat (struct array annotations with relative_im_path, bbox_x1, bbox_y1, bbox_x2,
//     bbox_y2, class and test; cell class_names), paths relative to the root;
//     2. the devkit: devkit/cars_meta.mat (class_names), devkit/cars_train_annos.mat and
//     cars_test_annos_withlabels.mat (in the root or devkit/; struct array annotations with
//     bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname), images in cars_train/ and cars_test/
//     (or the nested cars_train/cars_train/ of some copies);
//     3. CSV annotations: see the CSV section below.
//     The MATLAB boxes are 1-based and inclusive; they become Box{x1-1, y1-1, x2, y2}.
//   - "folder": one folder per class (torchvision's ImageFolder), root/<class>/**/*.{jpg,jpeg,png,
//     gif,bmp,webp} (pipeline.Extensions, in any letter case), with optional root/train/<class> and
//     root/test/<class> splits. Classes are the folder names in sorted order. Without a test/ folder
//     there is no test split unless the TestSplit option (data.test_fraction in a run's
//     configuration) holds out a seeded, stratified fraction of each class; see "Class folders".
//
// # Class folders
//
// What the folder format takes, and what it leaves out (nothing is left out silently: every file or
// folder left out is in Index.Skipped with its reason, and Open logs one notice per reason naming
// the first few and counting the rest, e.g. "skipped 3 files: a/x.tiff, a/y.heic, b/z.txt
// (unsupported format; supported: .jpg, ...)"):
//
//   - Symbolic links are followed, to class folders, to folders inside them and to images, as
//     torchvision does; Open logs the links it followed. A broken link and a link back to a folder
//     being searched (a loop) are left out.
//   - A file or folder whose name starts with "." is hidden (.DS_Store, .ipynb_checkpoints, the
//     "._name.jpg" files macOS leaves on other file systems) and left out.
//   - A folder whose name starts with "_" (__MACOSX, _trash, _unused) is not a class and is not
//     searched. A file whose name starts with "_" is an ordinary image (cameras write _MG_1234.JPG).
//   - Files with other extensions (.tif, .heic, .txt ...) are left out as an unsupported format;
//     so are files that are not regular files (a named pipe, a device) and empty files.
//   - With train/ and test/ folders, other folders in the root (val/, say) are not read.
//
// A dataset with no test images is an error wrapping ErrNoTestImages whose message says what to do:
// for class folders, add root/test/<class>/ folders or set data.test_fraction (TestSplit); a test
// fraction for a dataset that has its own test split is an error too, not ignored.
//
// # Stanford Cars as CSV
//
// Copies of Stanford Cars often come with CSV files instead of the MAT files. Open reads, in the root,
// annotations.csv (both splits, told apart by a split column) or else one file per split: train.csv
// and test.csv, or anno_train.csv and anno_test.csv. A file whose first row names an image column
// has a header, and its columns are found by name (case-insensitive):
//
//   - image path (required): fname, filename, file_name, file, image, image_name, image_path, path or
//     relative_im_path;
//   - class (required, one or both): class or class_id (1-based ids into the class names), class_name;
//   - split (annotations.csv only): split ("train" or "test"), test or is_test (1 for test), or
//     is_train (1 for train);
//   - box (optional): bbox_x1, bbox_y1, bbox_x2, bbox_y2, or x1, y1, x2, y2 (1-based, inclusive, as in
//     the devkit).
//
// A file without a header must have the six columns of the widespread Kaggle export,
// fname,x1,y1,x2,y2,class. Class ids are named by names.csv or class_names.csv (one name per line,
// line k naming class k) or else devkit/cars_meta.mat; with only class_name columns the classes are
// the names in sorted order. An image path is looked up relative to the root, then under
// cars_<split>/, cars_<split>/cars_<split>/, <split>/, <split>/<class>/, car_data/<split>/<class>/ and
// car_data/car_data/<split>/<class>/ ("/" in a class name becomes "-" in a folder name); the first
// record of each split decides where that split's images are.
//
// # Validation
//
// Open checks everything it reads: a missing root or annotation file, a malformed line, an unknown
// or duplicate id, a class id out of range, an image listed but not on disk or not a regular file (an
// error, or dropped, counted and listed with SkipMissing) and a path that leaves the root all give an
// error naming the file and the line (or the MAT variable element). Annotation files are read with
// package safefile: only regular files (symbolic links followed) of at most MaxAnnotationBytes, so
// that a named pipe or a device given as an annotation file is an error at once, not a hang. SplitValidation carves a seeded, stratified validation split
// from the training records.
package datasets
