import FlatBuffers
import IR
import Ops
import Support

/// An ordered list of passes. The IR verifier may run after each one.
public struct Pipeline {
    public var passes: [any GraphPass]
    public init(_ passes: [any GraphPass]) { self.passes = passes }

    @discardableResult
    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = false
        if context.opsBeforePasses == nil {
            context.opsBeforePasses = model.subgraphs.reduce(0) { $0 + $1.liveOpIDs.count }
        }
        for i in passes.indices {
            let name = passes[i].name
            context.currentPass = name
            if try passes[i].run(on: &model, context: &context) {
                changed = true
                if !context.changedPasses.contains(name) { context.changedPasses.append(name) }
            }
            if context.verifyAfterEachPass {
                context.verifierRuns += 1
                let problems = Verifier.verify(model)
                if let first = problems.first { throw PassError.verifierFailed(pass: name, message: first.description) }
            }
            context.afterPass?(name, model)
        }
        return changed
    }
}
