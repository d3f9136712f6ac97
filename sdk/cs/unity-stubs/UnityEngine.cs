// Compile-only stand-ins for the few UnityEngine APIs the package's
// Unity-only code uses (HubClientRunner, the UnityWebRequest transport),
// with Unity's signatures, so that sdk/run.sh can compile those branches
// with Mono's mcs (-define:UNITY_5_3_OR_NEWER) where Unity is not
// installed. Never shipped, never run: the real assemblies come with Unity.
using System;

namespace UnityEngine
{
  public class Object { }
  public class Component : Object { }
  public class Behaviour : Component { }
  public class MonoBehaviour : Behaviour { }

  public sealed class GameObject : Object
  {
    public T AddComponent<T>() where T : Component { throw new NotImplementedException(); }
  }

  public class AsyncOperation
  {
    public bool isDone { get { throw new NotImplementedException(); } }
    public event Action<AsyncOperation> completed { add { } remove { } }
  }
}

namespace UnityEngine.Networking
{
  public class DownloadHandler : IDisposable
  {
    public string text { get { throw new NotImplementedException(); } }
    public byte[] data { get { throw new NotImplementedException(); } }
    public void Dispose() { }
  }

  public sealed class DownloadHandlerBuffer : DownloadHandler { }

  public class UploadHandler : IDisposable
  {
    public void Dispose() { }
  }

  public sealed class UploadHandlerRaw : UploadHandler
  {
    public UploadHandlerRaw(byte[] data) { }
  }

  public sealed class UnityWebRequestAsyncOperation : AsyncOperation { }

  public class UnityWebRequest : IDisposable
  {
    public UnityWebRequest(string url, string method) { }
    public DownloadHandler downloadHandler { get; set; }
    public UploadHandler uploadHandler { get; set; }
    public long responseCode { get { throw new NotImplementedException(); } }
    public string error { get { throw new NotImplementedException(); } }
    public void SetRequestHeader(string name, string value) { }
    public string GetResponseHeader(string name) { throw new NotImplementedException(); }
    public System.Collections.Generic.Dictionary<string, string> GetResponseHeaders() { throw new NotImplementedException(); }
    public UnityWebRequestAsyncOperation SendWebRequest() { throw new NotImplementedException(); }
    public void Dispose() { }
  }
}
