// CUDA kernels for StyleGAN2's custom operations, written for lsw_stylegan2.
// Their specification is the pure-torch reference in ../bias_act.py and ../upfirdn2d.py.
#include <torch/extension.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

// ---------------------------------------------------------------------------------------------
// bias_act: y = clamp(act(x + b) * gain, +-clamp). act: 0 linear, 1 relu, 2 lrelu, 3 tanh,
// 4 sigmoid, 5 swish (indices of ACTIVATIONS in bias_act.py).

__device__ __forceinline__ float act_forward(float v, int act, float alpha) {
    switch (act) {
        case 1: return v > 0.f ? v : 0.f;
        case 2: return v > 0.f ? v : v * alpha;
        case 3: return tanhf(v);
        case 4: return 1.f / (1.f + expf(-v));
        case 5: return v / (1.f + expf(-v));
        default: return v;
    }
}

__device__ __forceinline__ float act_derivative(float v, int act, float alpha) {
    switch (act) {
        case 1: return v > 0.f ? 1.f : 0.f;
        case 2: return v > 0.f ? 1.f : alpha;
        case 3: { float t = tanhf(v); return 1.f - t * t; }
        case 4: { float s = 1.f / (1.f + expf(-v)); return s * (1.f - s); }
        case 5: { float s = 1.f / (1.f + expf(-v)); return s + v * s * (1.f - s); }
        default: return 1.f;
    }
}

template <typename scalar_t>
__global__ void bias_act_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ b,
                                const scalar_t* __restrict__ dy, scalar_t* __restrict__ out, int64_t n,
                                int64_t inner, int64_t channels, int act, float alpha, float gain, float clamp) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x) {
        float v = (float)x[i];
        if (b != nullptr) v += (float)b[(i / inner) % channels];
        float y = act_forward(v, act, alpha) * gain;
        if (dy == nullptr) {  // forward
            if (clamp >= 0.f) y = fminf(fmaxf(y, -clamp), clamp);
            out[i] = (scalar_t)y;
        } else {  // backward: dL/dx = dy * gain * act'(x + b), zero where the clamp was active
            bool passed = clamp < 0.f || (y >= -clamp && y <= clamp);
            out[i] = (scalar_t)(passed ? (float)dy[i] * gain * act_derivative(v, act, alpha) : 0.f);
        }
    }
}

torch::Tensor bias_act(torch::Tensor x, torch::Tensor b, torch::Tensor dy, int64_t dim, int64_t act, double alpha,
                       double gain, double clamp) {
    TORCH_CHECK(x.is_cuda() && x.is_contiguous(), "bias_act: x must be a contiguous CUDA tensor");
    const at::cuda::OptionalCUDAGuard guard(x.device());
    bool has_b = b.numel() > 0, backward = dy.numel() > 0;
    TORCH_CHECK(!has_b || (b.dim() == 1 && b.size(0) == x.size(dim) && b.is_contiguous() && b.dtype() == x.dtype()),
                "bias_act: b must be a contiguous vector of x.shape[dim] with x's dtype");
    TORCH_CHECK(!backward || (dy.sizes() == x.sizes() && dy.is_contiguous() && dy.dtype() == x.dtype()),
                "bias_act: dy must match x");
    int64_t inner = 1;
    for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
    auto out = torch::empty_like(x);
    int64_t n = x.numel();
    if (n == 0) return out;
    int threads = 256;
    int blocks = (int)std::min<int64_t>((n + threads - 1) / threads, 65535);
    AT_DISPATCH_FLOATING_TYPES_AND_HALF(x.scalar_type(), "bias_act_kernel", [&] {
        bias_act_kernel<scalar_t><<<blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            x.data_ptr<scalar_t>(), has_b ? b.data_ptr<scalar_t>() : nullptr,
            backward ? dy.data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>(), n, inner, x.size(dim),
            (int)act, (float)alpha, (float)gain, (float)clamp);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

// ---------------------------------------------------------------------------------------------
// upfirdn2d: zero-insertion upsampling by `up`, padding (negative = crop), correlation with the
// (already flipped if needed, gain-scaled) filter f [fh, fw], keeping every `down`-th sample.
// One thread per output element; the filter taps that land on inserted zeros are skipped.

template <typename scalar_t>
__global__ void upfirdn2d_kernel(const scalar_t* __restrict__ x, const float* __restrict__ f,
                                 scalar_t* __restrict__ y, int64_t planes, int in_h, int in_w, int out_h, int out_w,
                                 int fh, int fw, int up, int down, int px0, int py0) {
    int64_t total = planes * out_h * out_w;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)blockDim.x * gridDim.x) {
        int ox = (int)(i % out_w);
        int oy = (int)((i / out_w) % out_h);
        int64_t plane = i / ((int64_t)out_w * out_h);
        const scalar_t* xp = x + plane * in_h * in_w;
        float acc = 0.f;
        for (int ky = 0; ky < fh; ++ky) {
            int uy = oy * down + ky - py0;  // coordinate in the upsampled, unpadded signal
            if (uy < 0 || uy % up != 0) continue;
            int iy = uy / up;
            if (iy >= in_h) continue;
            for (int kx = 0; kx < fw; ++kx) {
                int ux = ox * down + kx - px0;
                if (ux < 0 || ux % up != 0) continue;
                int ix = ux / up;
                if (ix >= in_w) continue;
                acc += (float)xp[iy * in_w + ix] * f[ky * fw + kx];
            }
        }
        y[i] = (scalar_t)acc;
    }
}

torch::Tensor upfirdn2d(torch::Tensor x, torch::Tensor f, int64_t up, int64_t down, int64_t px0, int64_t px1,
                        int64_t py0, int64_t py1) {
    TORCH_CHECK(x.is_cuda() && x.dim() == 4 && x.is_contiguous(), "upfirdn2d: x must be a contiguous 4-D CUDA tensor");
    TORCH_CHECK(f.is_cuda() && f.dim() == 2 && f.is_contiguous() && f.scalar_type() == torch::kFloat32,
                "upfirdn2d: f must be a contiguous 2-D float32 CUDA tensor");
    TORCH_CHECK(up >= 1 && down >= 1, "upfirdn2d: up and down must be >= 1");
    const at::cuda::OptionalCUDAGuard guard(x.device());
    int in_h = (int)x.size(2), in_w = (int)x.size(3), fh = (int)f.size(0), fw = (int)f.size(1);
    int out_h = (int)((in_h * up + py0 + py1 - fh) / down + 1);
    int out_w = (int)((in_w * up + px0 + px1 - fw) / down + 1);
    TORCH_CHECK(out_h >= 1 && out_w >= 1, "upfirdn2d: empty output");
    auto y = torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
    int64_t planes = x.size(0) * x.size(1), total = planes * out_h * out_w;
    int threads = 256;
    int blocks = (int)std::min<int64_t>((total + threads - 1) / threads, 1 << 20);
    AT_DISPATCH_FLOATING_TYPES_AND_HALF(x.scalar_type(), "upfirdn2d_kernel", [&] {
        upfirdn2d_kernel<scalar_t><<<blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            x.data_ptr<scalar_t>(), f.data_ptr<float>(), y.data_ptr<scalar_t>(), planes, in_h, in_w, out_h, out_w,
            fh, fw, (int)up, (int)down, (int)px0, (int)py0);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("bias_act", &bias_act, "fused bias + activation + gain + clamp (forward, or backward given dy)");
    m.def("upfirdn2d", &upfirdn2d, "upsample, pad, FIR filter, downsample");
}
