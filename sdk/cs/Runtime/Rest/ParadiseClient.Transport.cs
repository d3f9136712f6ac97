// Hand-written runtime of the Unity package (copied by sdk/run.sh): the
// transport of the generated ParadiseClient. Under Unity the default is
// UnityWebRequest (every platform Unity targets, WebGL included); elsewhere
// (Mono, .NET) it is HttpClient. Both stay overridable: Send for the
// blocking methods, SendAsync for the XxxAsync ones.
using System;
using System.Collections;
using System.Text;
using System.Threading.Tasks;
#if UNITY_5_3_OR_NEWER
using UnityEngine.Networking;
#else
using System.Net.Http;
using System.Net.Http.Headers;
#endif

namespace Paradise.Rest
{
  /// <summary>One HTTP response as the transport returns it: status and body text.</summary>
  public sealed class RawResponse
  {
    public int Status { get; private set; }
    public string Body { get; private set; }

    public RawResponse(int status, string body)
    {
      Status = status;
      Body = body ?? "";
    }
  }

  public partial class ParadiseClient
  {
#if UNITY_5_3_OR_NEWER
    /// <summary>
    /// Sends one request and waits for it (the blocking methods). Under
    /// Unity this blocks the calling thread until UnityWebRequest finishes:
    /// fine in editor tools, a frame hitch in a game, so games use the Async
    /// methods (await, or <c>yield return task.AsCoroutine()</c>).
    /// </summary>
    protected virtual int Send(string method, string pathAndQuery, string jsonBody, out string responseBody)
    {
      using (var req = NewRequest(method, pathAndQuery, jsonBody))
      {
        var op = req.SendWebRequest();
        while (!op.isDone) System.Threading.Thread.Sleep(1);
        return Finish(req, out responseBody);
      }
    }

    /// <summary>Sends one request (the Async methods) with UnityWebRequest; call it on Unity's main thread.</summary>
    protected virtual Task<RawResponse> SendAsync(string method, string pathAndQuery, string jsonBody)
    {
      var tcs = new TaskCompletionSource<RawResponse>();
      UnityWebRequest req;
      try
      {
        req = NewRequest(method, pathAndQuery, jsonBody);
      }
      catch (Exception e)
      {
        tcs.SetException(e);
        return tcs.Task;
      }
      req.SendWebRequest().completed += _ =>
      {
        try
        {
          string body;
          int status = Finish(req, out body);
          tcs.TrySetResult(new RawResponse(status, body));
        }
        catch (Exception e)
        {
          tcs.TrySetException(e);
        }
        finally
        {
          req.Dispose();
        }
      };
      return tcs.Task;
    }

    UnityWebRequest NewRequest(string method, string pathAndQuery, string jsonBody)
    {
      var req = new UnityWebRequest(BaseUrl + pathAndQuery, method);
      req.downloadHandler = new DownloadHandlerBuffer();
      req.SetRequestHeader("Accept", "application/json");
      if (Token != null) req.SetRequestHeader("Authorization", "Token " + Token);
      if (jsonBody != null)
      {
        req.uploadHandler = new UploadHandlerRaw(Encoding.UTF8.GetBytes(jsonBody));
        req.SetRequestHeader("Content-Type", "application/json");
      }
      return req;
    }

    // A non-2xx status is an answer (the envelope), not a transport error:
    // only a request that got no response at all throws.
    static int Finish(UnityWebRequest req, out string responseBody)
    {
      if (req.responseCode == 0) throw new System.Net.WebException("request failed: " + req.error);
      responseBody = req.downloadHandler != null ? req.downloadHandler.text : "";
      return (int)req.responseCode;
    }
#else
    static readonly HttpClient http = new HttpClient();

    /// <summary>Sends one request and waits for it (the blocking methods); the default uses HttpClient.</summary>
    protected virtual int Send(string method, string pathAndQuery, string jsonBody, out string responseBody)
    {
      RawResponse r = SendAsync(method, pathAndQuery, jsonBody).ConfigureAwait(false).GetAwaiter().GetResult();
      responseBody = r.Body;
      return r.Status;
    }

    /// <summary>Sends one request (the Async methods); the default uses HttpClient.</summary>
    protected virtual async Task<RawResponse> SendAsync(string method, string pathAndQuery, string jsonBody)
    {
      using (var req = new HttpRequestMessage(new HttpMethod(method), BaseUrl + pathAndQuery))
      {
        req.Headers.Accept.ParseAdd("application/json");
        if (Token != null) req.Headers.Authorization = new AuthenticationHeaderValue("Token", Token);
        if (jsonBody != null) req.Content = new StringContent(jsonBody, Encoding.UTF8, "application/json");
        using (var resp = await http.SendAsync(req).ConfigureAwait(false))
        {
          string body = resp.Content == null ? "" : await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
          return new RawResponse((int)resp.StatusCode, body);
        }
      }
    }
#endif
  }
}

namespace Paradise
{
  /// <summary>Tasks in Unity coroutines.</summary>
  public static class TaskCoroutines
  {
    /// <summary>
    /// Waits for the task inside a coroutine, one frame at a time:
    /// <c>var t = client.GetProfileAsync(); yield return t.AsCoroutine(); var profile = t.Result;</c>
    /// (Result rethrows the task's exception.)
    /// </summary>
    public static IEnumerator AsCoroutine(this Task task)
    {
      while (!task.IsCompleted) yield return null;
    }
  }
}
