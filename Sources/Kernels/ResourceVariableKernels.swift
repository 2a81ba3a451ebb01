import IR
import Support

/// TFLM's resource variables (micro_resource_variable.cc): VAR_HANDLE names a variable by
/// (container, shared_name) and gives an int32 id; ASSIGN_VARIABLE stores a tensor under the id
/// (TFLM allocates the buffer on the first assignment); READ_VARIABLE copies it out. One store
/// serves every subgraph of a model, so a CALL_ONCE init subgraph can set what the main
/// subgraph reads. Values persist across runs; `reset` zeroes them, as
/// MicroResourceVariables::ResetAll does on MicroInterpreter::Reset.
package final class ResourceVariables {
    private var ids: [String: Int32] = [:]
    private var values: [Int32: RuntimeTensor] = [:]

    package init() {}

    package func id(container: String, sharedName: String) -> Int32 {
        let key = container + "\u{0}" + sharedName
        if let id = ids[key] { return id }
        let id = Int32(ids.count)
        ids[key] = id
        return id
    }

    package func read(_ id: Int32) -> RuntimeTensor? { values[id] }

    /// Whether any VAR_HANDLE named a variable.
    package var hasVariables: Bool { !ids.isEmpty }

    /// Stores a value; TFLM keeps the first assignment's byte size and refuses another.
    package func assign(_ id: Int32, _ value: RuntimeTensor) -> Bool {
        if let old = values[id], old.dtype != value.dtype || old.shape != value.shape { return false }
        values[id] = value
        return true
    }

    package func reset() {
        for (id, v) in values { values[id] = RuntimeTensor.zeros(like: v) }
    }
}

extension RuntimeTensor {
    /// Zero elements of the same dtype and shape.
    static func zeros(like t: RuntimeTensor) -> RuntimeTensor {
        let n = t.storage.count
        switch t.storage {
        case .float32: return RuntimeTensor(unchecked: t.shape, .float32(Array(repeating: 0, count: n)))
        case .int8: return RuntimeTensor(unchecked: t.shape, .int8(Array(repeating: 0, count: n)))
        case .uint8: return RuntimeTensor(unchecked: t.shape, .uint8(Array(repeating: 0, count: n)))
        case .int16: return RuntimeTensor(unchecked: t.shape, .int16(Array(repeating: 0, count: n)))
        case .int32: return RuntimeTensor(unchecked: t.shape, .int32(Array(repeating: 0, count: n)))
        case .int64: return RuntimeTensor(unchecked: t.shape, .int64(Array(repeating: 0, count: n)))
        case .uint32: return RuntimeTensor(unchecked: t.shape, .uint32(Array(repeating: 0, count: n)))
        case .uint64: return RuntimeTensor(unchecked: t.shape, .uint64(Array(repeating: 0, count: n)))
        case .bool: return RuntimeTensor(unchecked: t.shape, .bool(Array(repeating: false, count: n)))
        }
    }
}

/// The resource id a handle tensor carries (VAR_HANDLE writes it as TFLM does: one int32).
private func resourceID(_ s: Slot, _ label: String) throws -> Int32 {
    guard s.dtype == .resource || s.dtype == .int32 else { throw InterpreterError.runtime("input \(s.name) is not a resource handle", at: label) }
    return s.raw.load(as: Int32.self)
}

/// VAR_HANDLE (var_handle.cc).
package final class VarHandleKernel: Kernel {
    private let output: Slot
    package var outputs: [Slot] { [output] }
    private let id: Int32

    package init(_ c: KernelContext, container: String, sharedName: String) throws {
        output = try c.output()
        // A handle slot holds at least 16 bytes (Slot's minimum), room for the int32 id.
        id = c.resources.id(container: container, sharedName: sharedName)
    }

    package func run() throws { output.raw.storeBytes(of: id, as: Int32.self) }
}

/// ASSIGN_VARIABLE (assign_variable.cc); stateful, so `resetVariables` zeroes the store.
package final class AssignVariableKernel: StatefulKernel {
    private let label: String
    private let handle: Slot, value: Slot
    private let resources: ResourceVariables
    package var outputs: [Slot] { [] }

    package init(_ c: KernelContext) throws {
        label = c.label
        handle = try c.input(0)
        value = try c.input(1)
        resources = c.resources
    }

    package func run() throws {
        guard let t = value.tensor() else { throw InterpreterError.runtime("cannot store a \(value.dtype.name) value", at: label) }
        guard resources.assign(try resourceID(handle, label), t) else {
            throw InterpreterError.runtime("the variable already holds a tensor of another type or shape", at: label)
        }
    }

    package func resetState() { resources.reset() }
}

/// READ_VARIABLE (read_variable.cc).
package final class ReadVariableKernel: Kernel {
    private let label: String
    private let handle: Slot, output: Slot
    private let resources: ResourceVariables
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        handle = try c.input(0)
        output = try c.output()
        resources = c.resources
    }

    package func run() throws {
        guard let t = resources.read(try resourceID(handle, label)) else {
            throw InterpreterError.runtime("the variable is read before any ASSIGN_VARIABLE", at: label)
        }
        guard output.load(t) else { throw InterpreterError.runtime("the variable holds \(t.dtype.name) \(t.shape), the output is \(output.dtype.name)", at: label) }
    }
}
