import IR

/// The type of an operator attribute's value. The rule language maps each to one of its types;
/// the integer widths are kept apart because a value must fit the options field it goes into.
package enum AttributeType: Sendable, Equatable {
    case int32, int8, bool, float32, padding, activation, dtype, int32List
}

/// A value of an operator attribute, of exactly one `AttributeType`.
package enum AttributeValue: Sendable, Equatable {
    case int32(Int32)
    case int8(Int8)
    case bool(Bool)
    case float32(Float)
    case padding(Padding)
    case activation(ActivationFunction)
    case dtype(DType)
    case int32List([Int32])

    /// The Swift value inside.
    package var payload: any Sendable {
        switch self {
        case .int32(let v): v
        case .int8(let v): v
        case .bool(let v): v
        case .float32(let v): v
        case .padding(let v): v
        case .activation(let v): v
        case .dtype(let v): v
        case .int32List(let v): v
        }
    }
}

/// A Swift type an attribute is stored as in a typed op kind.
package protocol AttributeRepresentable: Sendable {
    static var attributeType: AttributeType { get }
    var attributeValue: AttributeValue { get }
}

/// One attribute of an operator's options, by its schema option name, as the rule language
/// reads and writes it (`op.stride_w`, `set:`, `convert: … attributes:`).
package struct OperatorAttribute: Sendable {
    package let name: String
    package let type: AttributeType
    /// The value on `kind`, nil when the kind does not carry it (its options kept opaquely).
    package let read: @Sendable (OpKind) -> AttributeValue?
    /// `kind` with the attribute set to a value of `type`, nil when the kind does not carry it;
    /// nil for attributes that are read-only (read from options the IR keeps opaquely).
    package let write: (@Sendable (OpKind, AttributeValue) -> OpKind?)?

    package var settable: Bool { write != nil }

    package init<V: AttributeRepresentable>(
        _ name: String,
        read: @escaping @Sendable (OpKind) -> V?,
        write: (@Sendable (OpKind, V) -> OpKind?)?
    ) {
        self.name = name
        type = V.attributeType
        self.read = { read($0)?.attributeValue }
        if let write {
            self.write = { kind, value in
                guard let v = value.payload as? V else { return nil }
                return write(kind, v)
            }
        } else {
            self.write = nil
        }
    }

    /// `fused_activation`, read and written through the definition's `activation` field.
    package static let fusedActivation = OperatorAttribute(
        "fused_activation",
        read: { $0.fusedActivation },
        write: { kind, activation in
            guard kind.fusedActivation != nil else { return nil }
            var k = kind
            k.fusedActivation = activation
            return k
        }
    )
}

/// The payload of one typed op kind (an attribute struct or a single value), to declare its
/// attributes by key path.
package struct TypedOptions<Payload>: Sendable {
    package let payload: @Sendable (OpKind) -> Payload?
    package let make: @Sendable (Payload) -> OpKind

    package init(payload: @escaping @Sendable (OpKind) -> Payload?, make: @escaping @Sendable (Payload) -> OpKind) {
        self.payload = payload
        self.make = make
    }

    /// A settable attribute stored at `field` of the payload.
    package func attribute<V: AttributeRepresentable>(_ name: String, _ field: WritableKeyPath<Payload, V> & Sendable) -> OperatorAttribute {
        let payload = payload, make = make
        return OperatorAttribute(
            name,
            read: { payload($0)?[keyPath: field] },
            write: { kind, value in
                guard var p = payload(kind) else { return nil }
                p[keyPath: field] = value
                return make(p)
            }
        )
    }
}

extension Int32: AttributeRepresentable {
    package static var attributeType: AttributeType { .int32 }
    package var attributeValue: AttributeValue { .int32(self) }
}

extension Int8: AttributeRepresentable {
    package static var attributeType: AttributeType { .int8 }
    package var attributeValue: AttributeValue { .int8(self) }
}

extension Bool: AttributeRepresentable {
    package static var attributeType: AttributeType { .bool }
    package var attributeValue: AttributeValue { .bool(self) }
}

extension Float: AttributeRepresentable {
    package static var attributeType: AttributeType { .float32 }
    package var attributeValue: AttributeValue { .float32(self) }
}

extension Padding: AttributeRepresentable {
    package static var attributeType: AttributeType { .padding }
    package var attributeValue: AttributeValue { .padding(self) }
}

extension ActivationFunction: AttributeRepresentable {
    package static var attributeType: AttributeType { .activation }
    package var attributeValue: AttributeValue { .activation(self) }
}

extension DType: AttributeRepresentable {
    package static var attributeType: AttributeType { .dtype }
    package var attributeValue: AttributeValue { .dtype(self) }
}

extension Array: AttributeRepresentable where Element == Int32 {
    package static var attributeType: AttributeType { .int32List }
    package var attributeValue: AttributeValue { .int32List(self) }
}
