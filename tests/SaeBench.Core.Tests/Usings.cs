// Inside SaeBench.Core.* the name `Sae` means the namespace SaeBench.Core.Autoencoders; the alias names the type.
global using Sae = SaeBench.Core.Autoencoders.Sae;
