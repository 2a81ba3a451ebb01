// See include/tfproto_nested.h. Hand-written, not generated.
#include "tfproto_nested.h"

Tfproto__MetaGraphDef__MetaInfoDef *tfproto_meta_info_def_unpack(size_t len, const uint8_t *data) {
    return (Tfproto__MetaGraphDef__MetaInfoDef *)protobuf_c_message_unpack(
        &tfproto__meta_graph_def__meta_info_def__descriptor, NULL, len, data);
}

void tfproto_meta_info_def_free(Tfproto__MetaGraphDef__MetaInfoDef *message) {
    protobuf_c_message_free_unpacked((ProtobufCMessage *)message, NULL);
}

Tfproto__MetaGraphDef__SignatureDefEntry *tfproto_signature_def_entry_unpack(size_t len, const uint8_t *data) {
    return (Tfproto__MetaGraphDef__SignatureDefEntry *)protobuf_c_message_unpack(
        &tfproto__meta_graph_def__signature_def_entry__descriptor, NULL, len, data);
}

void tfproto_signature_def_entry_free(Tfproto__MetaGraphDef__SignatureDefEntry *message) {
    protobuf_c_message_free_unpacked((ProtobufCMessage *)message, NULL);
}
