// Umbrella header of the TFProto module: the protobuf-c code generated from
// Sources/TFProto/proto/tfproto.proto by scripts/regen-proto.sh, plus hand-written
// unpack helpers for nested messages.
#ifndef TFPROTO_H
#define TFPROTO_H

#include <protobuf-c/protobuf-c.h>
#include "tfproto.pb-c.h"
#include "tfproto_nested.h"

#endif
