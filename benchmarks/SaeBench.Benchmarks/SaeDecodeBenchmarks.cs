using BenchmarkDotNet.Attributes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Benchmarks;

/// <summary>Dense GEMM decode against the sparse (non-zeros only) decode of top-k codes, which <c>Sae.Decode</c> chooses between.</summary>
[MemoryDiagnoser]
public class SaeDecodeBenchmarks
{
    private ComputeBackend _backend = null!;
    private Sae _sae = null!;
    private HostMatrix _f = null!;
    private HostMatrix _xHat = null!;

    [Params(32, 128)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const int tokens = 1024, dIn = 512, dSae = 8192;
        var rng = new Random(1);
        HostMatrix Random(int r, int c)
        {
            var m = new HostMatrix(r, c);
            foreach (ref var v in m.Span) v = (float)(rng.NextDouble() * 2 - 1);
            return m;
        }
        _backend = CpuBackend.Create();
        _sae = new Sae(SaeArchitectures.TopK, new SaeParameters
        {
            WEnc = Random(dIn, dSae),
            BEnc = new float[dSae],
            WDec = Random(dSae, dIn),
            BDec = new float[dIn],
            K = K,
        });
        _f = new HostMatrix(tokens, dSae);
        _xHat = new HostMatrix(tokens, dIn);
        _sae.Encode(_backend, Random(tokens, dIn), _f);
    }

    [Benchmark(Baseline = true)]
    public void Dense() => _sae.DecodeDense(_backend, _f, _xHat);

    [Benchmark]
    public void Sparse() => _sae.DecodeSparse(_f, _xHat);
}
