// Hand-written runtime of the Unity package (copied by sdk/run.sh). Unity
// only: outside Unity (Mono's mcs, plain .NET) the game loop calls
// HubClient.DispatchPending itself.
#if UNITY_5_3_OR_NEWER
using UnityEngine;

namespace Paradise.Ws
{
  /// <summary>
  /// Dispatches a HubClient's events on Unity's main thread once per frame
  /// and closes the session when its GameObject is destroyed. Add it with
  /// <c>HubClientRunner.Attach(gameObject, client)</c>.
  /// </summary>
  public sealed class HubClientRunner : MonoBehaviour
  {
    /// <summary>The client whose events Update dispatches.</summary>
    public HubClient Client { get; set; }

    /// <summary>Adds a runner for client to the GameObject and returns it.</summary>
    public static HubClientRunner Attach(GameObject host, HubClient client)
    {
      var runner = host.AddComponent<HubClientRunner>();
      runner.Client = client;
      return runner;
    }

    void Update()
    {
      if (Client != null) Client.DispatchPending();
    }

    void OnDestroy()
    {
      if (Client != null) Client.Close(1001, "going away");
    }
  }
}
#endif
