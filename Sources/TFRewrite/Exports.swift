// The library as one import: `import TFRewrite` brings every layer (see Package.swift).
@_exported import Export
@_exported import IR
@_exported import Import
@_exported import Interpret
@_exported import Kernels
@_exported import Memory
@_exported import Ops
@_exported import PassCatalog
@_exported import Passes
@_exported import Driver
@_exported import Quantize
@_exported import Report
@_exported import Rewrite
@_exported import Rules
@_exported import Support
