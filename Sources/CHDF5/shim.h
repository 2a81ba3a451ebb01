// The HDF5 C library (Debian: libhdf5-dev; headers in /usr/include/hdf5/serial, found through
// pkg-config "hdf5-serial"). HDF5's property-list classes, native types and open flags are
// macros that call H5open() and read globals, which Swift cannot import; these inline
// functions hand them over as plain values.
#include <hdf5.h>

static inline hid_t chdf5_file_access_class(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_all(void) { return H5S_ALL; }
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_c_string(void) { return H5T_C_S1; }
static inline unsigned chdf5_read_only(void) { return H5F_ACC_RDONLY; }
static inline size_t chdf5_variable_size(void) { return H5T_VARIABLE; }
static inline hid_t chdf5_error_default(void) { return H5E_DEFAULT; }
