// Unpack helpers for nested messages of tfproto.proto. protoc-c only generates
// `*__unpack` functions for top-level messages; nested ones (MetaGraphDef.MetaInfoDef,
// map entries) must go through protobuf_c_message_unpack with their descriptor, whose
// address is only reliably taken in C (a Swift `&global` may point at a copy).
// Hand-written, not generated.
#ifndef TFPROTO_NESTED_H
#define TFPROTO_NESTED_H

#include <stddef.h>
#include <stdint.h>
#include "tfproto.pb-c.h"

PROTOBUF_C__BEGIN_DECLS

Tfproto__MetaGraphDef__MetaInfoDef *tfproto_meta_info_def_unpack(size_t len, const uint8_t *data);
void tfproto_meta_info_def_free(Tfproto__MetaGraphDef__MetaInfoDef *message);

Tfproto__MetaGraphDef__SignatureDefEntry *tfproto_signature_def_entry_unpack(size_t len, const uint8_t *data);
void tfproto_signature_def_entry_free(Tfproto__MetaGraphDef__SignatureDefEntry *message);

PROTOBUF_C__END_DECLS

#endif
