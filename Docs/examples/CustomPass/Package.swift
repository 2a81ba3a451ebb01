// swift-tools-version:6.0
import PackageDescription

// A user package that depends on tfrewrite's library by path, defines its own pass and runs the
// standard pipeline of a rules file plus that pass. See Docs/writing-passes.md ("Swift API").
let package = Package(
    name: "CustomPass",
    dependencies: [
        // The tfrewrite checkout. `name:` fixes the package's identity whatever the folder is called.
        .package(name: "tfrewrite", path: "../../.."),
    ],
    targets: [
        .executableTarget(
            name: "custom-pass",
            dependencies: [.product(name: "TFRewrite", package: "tfrewrite")]
        ),
    ]
)
