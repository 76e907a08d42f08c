using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Evals.Absorption;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Absorption;

/// <summary>
/// First-letter absorption against a known answer: a fake language model whose activation at a word is its letter's
/// direction e_ℓ — plus, for the 8 "absorbed" words of the letter a, a direction of their own — and SAEs built on those
/// directions (latent ℓ reads e_ℓ; an absorber per absorbed word takes over the letter on that word).
/// </summary>
public class FirstLetterAbsorptionTests
{
    private const int Letters = 26, Absorbed = 8, WordsPerLetter = 40, D = Letters + Absorbed;

    private static readonly List<string> Words = Enumerable.Range(0, Letters)
        .SelectMany(l => Enumerable.Range(0, WordsPerLetter).Select(i => $"{(char)('a' + l)}{(char)('a' + i / 26)}{(char)('a' + i % 26)}")).ToList();

    private static readonly FakeTextModel Model = new(Words, D, id =>
    {
        var x = new float[D];
        if (id < 2) return x;
        int index = id - 2, letter = index / WordsPerLetter, within = index % WordsPerLetter;
        x[letter] = 1;
        if (letter == 0 && within < Absorbed) x[Letters + within] = 1;
        return x;
    });

    /// <summary>Latent ℓ = ReLU(x_ℓ − 0.5) (on an absorbed word latent a sees −2 from its own direction and stays silent);
    /// absorber i = ReLU(x_{26+i}) with decoder (e_a + e_{26+i})/√2, when <paramref name="absorbing"/>.</summary>
    private static Sae Sae(bool absorbing)
    {
        int f = Letters + Absorbed;
        var wEnc = new HostMatrix(D, f);
        var wDec = new HostMatrix(f, D);
        var bEnc = new float[f];
        for (int l = 0; l < Letters; l++) { wEnc[l, l] = 1; wDec[l, l] = 1; bEnc[l] = -0.5f; }
        for (int i = 0; i < Absorbed; i++)
        {
            int j = Letters + i;
            if (absorbing) wEnc[Letters + i, 0] = -2; // the letter latent is silent where the absorber fires
            wEnc[Letters + i, j] = absorbing ? 1 : 0;
            bEnc[j] = absorbing ? 0 : -1;
            wDec[j, 0] = wDec[j, Letters + i] = (float)Math.Sqrt(0.5);
        }
        return new Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = bEnc, WDec = wDec, BDec = new float[D] });
    }

    private static EvalResult Run(Sae sae)
    {
        var evaluator = new FirstLetterAbsorptionEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["icl_examples"] = 2, ["test_fraction"] = 0.5 });
        var context = EvalFixtures.Context(sae, Model);
        var result = SingleJob.Run(evaluator, options, context);
        SaeBenchSchemas.AssertValid("absorption_first_letter", ResultFiles.Of(evaluator, options, result, context));
        return result;
    }

    [Fact]
    public void An_sae_with_one_latent_per_letter_absorbs_nothing()
    {
        var r = Run(Sae(absorbing: false));
        Assert.Equal(Letters, (int)r.Unstructured!["letters_qualifying"]!);
        Assert.Equal(0.0, r.Get("mean.mean_absorption_fraction_score")!.Value, 9);
        Assert.Equal(0.0, r.Get("mean.mean_full_absorption_score")!.Value, 9);
        Assert.Equal(1.0, r.Get("mean.mean_num_split_features")!.Value, 9);
    }

    /// <summary>Every absorbed test word of "a" is fully absorbed (fraction 1), every other word not at all: the letter's
    /// fraction is their share of its probe-positive test words, and the overall mean is that over 26 letters.</summary>
    [Fact]
    public void Absorbed_words_give_the_expected_fractions()
    {
        var r = Run(Sae(absorbing: true));
        var a = r.Details.Single(d => (string)d["first_letter"]! == "a");
        int positives = (int)a["num_probe_true_positives"]!, full = (int)a["num_full_absorption"]!;
        Assert.InRange(full, 1, Absorbed);
        Assert.Equal((double)full / positives, (double)a["mean_absorption_fraction"]!, 9);
        Assert.Equal((double)full / positives, (double)a["full_absorption_rate"]!, 9);
        Assert.Equal(1, (int)a["num_split_features"]!); // one absorbed word adds too little F1 to join the split
        Assert.All(r.Details.Where(d => (string)d["first_letter"]! != "a"), d => Assert.Equal(0.0, (double)d["mean_absorption_fraction"]!));
        Assert.Equal((double)full / positives / Letters, r.Get("mean.mean_absorption_fraction_score")!.Value, 9);
    }

    /// <summary>A model whose activation at a word says nothing about its letter (the same vector for every word): no
    /// ground-truth probe qualifies, and the evaluation is not applicable with the reason — never a result file of null
    /// metrics, which SAEBench's schema forbids.</summary>
    [Fact]
    public void A_model_that_does_not_carry_first_letters_is_not_applicable_with_the_reason()
    {
        var blind = new FakeTextModel(Words, D, id => Enumerable.Repeat(id < 2 ? 0f : 1f, D).ToArray());
        var evaluator = new FirstLetterAbsorptionEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["icl_examples"] = 2, ["test_fraction"] = 0.5 });
        var e = Assert.Throws<NotApplicableException>(() => SingleJob.Run(evaluator, options, EvalFixtures.Context(Sae(absorbing: false), blind)));
        Assert.Contains("0 of 26 letters qualify, fewer than min_feats_for_eval 20", e.Message);
        Assert.Contains("min_gt_probe_f1 is 0.6", e.Message);
    }

    [Fact]
    public void Alphabetic_tokens_and_prompts_follow_saebench()
    {
        var words = FirstLetterAbsorptionEvaluator.AlphabeticTokens(Model);
        Assert.Equal(Letters * WordsPerLetter, words.Count);
        Assert.Equal(" aaa", words[0].Text);
        Assert.Equal(0, words[0].Letter);
        var prompt = FirstLetterAbsorptionEvaluator.Prompt("{word} has the first letter:", [words[WordsPerLetter]], words[0]);
        Assert.Equal("\n baa has the first letter: B\n aaa has the first letter:", prompt);
    }

    [Fact]
    public void Models_that_are_not_language_models_are_not_applicable()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld);
        var evaluator = new FirstLetterAbsorptionEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(EvalFixtures.Oracle(world), world), evaluator.ParseOptions([])));
        Assert.Contains("absorption_hierarchy", e.Message);
    }
}
