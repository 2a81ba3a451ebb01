import CFloatKernels
import FlatBuffers
import IR
import Support

/// Float DEPTHWISE_CONV_2D with one output channel per input channel (depth multiplier 1,
/// MobileNet's case).
///
/// Given an NHWC input, weights [kH·kW][ldw] (channel innermost, padded), a bias and an
/// activation clamp; Result: out[b, oy, ox, c] = clamp(Σ in·w over the taps inside the image,
/// filter y then x ascending, + bias[c]) — the general kernel's order, so the same bits.
///
/// 16 channels at a time are summed in registers; on AVX machines the full 16-channel blocks
/// run in C (CFloatKernels, 32 channels side by side) and this code finishes the rest.
package enum FloatDepthwise {
    package static func multiplierOne(_ geo: WindowGeometry, input inp: UnsafePointer<Float>, weights w: UnsafePointer<Float>, ldw: Int,
                              bias: UnsafePointer<Float>, lo: Float, hi: Float, output out: UnsafeMutablePointer<Float>,
                              kernel: FloatKernel = .best) {
        let channels = geo.inC
        var done = 0
        if kernel != .portable {
            var window = tfr_window(batches: geo.batches, in_h: geo.inH, in_w: geo.inW, channels: channels,
                                    out_h: geo.outH, out_w: geo.outW, k_h: geo.kH, k_w: geo.kW,
                                    stride_h: geo.strideH, stride_w: geo.strideW, dil_h: geo.dilH, dil_w: geo.dilW,
                                    pad_top: geo.padTop, pad_left: geo.padLeft)
            done = tfr_depthwise_f32_avx(&window, inp, w, ldw, bias, lo, hi, out)
            if done == channels { return }
        }
        let (kH, kW) = (geo.kH, geo.kW)
        let loV = SIMD16<Float>(repeating: lo), hiV = SIMD16<Float>(repeating: hi)
        for b in 0..<geo.batches {
            for oy in 0..<geo.outH {
                let y0 = oy * geo.strideH - geo.padTop
                for ox in 0..<geo.outW {
                    let x0 = ox * geo.strideW - geo.padLeft
                    let outp = out + ((b * geo.outH + oy) * geo.outW + ox) * channels
                    var c = done
                    while c + 16 <= channels {
                        var acc = SIMD16<Float>(repeating: 0)
                        for fy in 0..<kH {
                            let iy = y0 + fy * geo.dilH
                            guard iy >= 0 && iy < geo.inH else { continue }
                            let row = inp + ((b * geo.inH + iy) * geo.inW) * channels + c
                            let wrow = w + fy * kW * ldw + c
                            for fx in 0..<kW {
                                let ix = x0 + fx * geo.dilW
                                guard ix >= 0 && ix < geo.inW else { continue }
                                acc = acc + (loadVector(row + ix * channels) as SIMD16<Float>) * loadVector(wrow + fx * ldw)
                            }
                        }
                        // Lane-wise min(max(x, lo), hi) with Swift's semantics (see FloatGEMM).
                        var v = acc + loadVector(bias + c) as SIMD16<Float>
                        v.replace(with: lo, where: loV .>= v)
                        v.replace(with: hi, where: hiV .< v)
                        UnsafeMutableRawPointer(outp + c).storeBytes(of: v, as: SIMD16<Float>.self)
                        c += 16
                    }
                    while c < channels {
                        var acc: Float = 0
                        for fy in 0..<kH {
                            let iy = y0 + fy * geo.dilH
                            guard iy >= 0 && iy < geo.inH else { continue }
                            for fx in 0..<kW {
                                let ix = x0 + fx * geo.dilW
                                guard ix >= 0 && ix < geo.inW else { continue }
                                acc = acc + inp[((b * geo.inH + iy) * geo.inW + ix) * channels + c] * w[(fy * kW + fx) * ldw + c]
                            }
                        }
                        outp[c] = min(max(acc + bias[c], lo), hi)
                        c += 1
                    }
                }
            }
        }
    }
}
