import FlatBuffers

public enum TFRewriteVersion { public static let string = "0.1.0" }
